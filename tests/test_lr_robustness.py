"""The one-number summary of lr_sensitivity: over how many decades of initial rate a method ends
near its own best, against grids worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from experiments.report.tables import lr_robustness

PINN_GRID = [1e-4, 1e-3, 5e-3, 1e-2, 5e-2]
IMAGE_GRID = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]


def _agg(task: str, method: str, grid: list[float], means: list[float], diverged: list[int] | None = None):
    return pd.DataFrame({"task": task, "schedule": method, "lr": grid, "final_metric_mean": means,
                         "n_diverged": diverged or [0] * len(grid), "n_seeds": 3,
                         "higher_is_better": task != "helmholtz"})


def _row(agg: pd.DataFrame) -> dict:
    (row,) = lr_robustness(agg).to_dict("records")
    return row


def test_decades_within_twice_the_best_error() -> None:
    # best 0.01 at 5e-3; within 0.02: 1e-3 (0.02, on the bound) and 1e-2 (0.015) -> 1e-3..1e-2 = 1 decade
    row = _row(_agg("helmholtz", "dlrs", PINN_GRID, [0.5, 0.02, 0.01, 0.015, 0.3]))
    assert (row["best_lr"], row["near_low_lr"], row["near_high_lr"]) == (5e-3, 1e-3, 1e-2)
    assert row["decades_near_best"] == pytest.approx(1.0) and not row["at_grid_edge"]


def test_only_rates_next_to_the_best_count() -> None:
    # best 0.01 at 1e-3; 1e-2 and 5e-2 are near too, but 5e-3 between them is not -> 0 decades
    row = _row(_agg("helmholtz", "static", PINN_GRID, [0.3, 0.01, 0.5, 0.011, 0.012]))
    assert (row["near_low_lr"], row["near_high_lr"], row["decades_near_best"]) == (1e-3, 1e-3, 0.0)


def test_a_rate_where_a_seed_diverged_is_never_near() -> None:
    row = _row(_agg("helmholtz", "cosine", PINN_GRID, [0.5, 0.011, 0.01, 0.01, 0.01], diverged=[0, 0, 0, 1, 0]))
    # 1e-2 had a diverged seed: the range stops at 5e-3 although 1e-2's surviving seeds are as good
    assert (row["near_low_lr"], row["near_high_lr"]) == (1e-3, 5e-3)
    assert row["decades_near_best"] == pytest.approx(math.log10(5))


def test_decades_within_one_point_of_the_best_accuracy() -> None:
    # best 85.5 % at 1e-3; >= 84.5: 3e-4 (85.0) and 3e-3 (84.6) -> 3e-4..3e-3 = 1 decade
    row = _row(_agg("fashion_mnist", "dlrs", IMAGE_GRID, [80.0, 85.0, 85.5, 84.6, 70.0]))
    assert (row["best_lr"], row["near_low_lr"], row["near_high_lr"]) == (1e-3, 3e-4, 3e-3)
    assert row["decades_near_best"] == pytest.approx(1.0)
    edge = _row(_agg("fashion_mnist", "cosine", IMAGE_GRID, [85.0, 85.2, 85.5, 84.6, 70.0]))
    assert edge["at_grid_edge"] and edge["decades_near_best"] == pytest.approx(math.log10(3e-3 / 1e-4))
