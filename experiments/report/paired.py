"""Paired comparisons: each method against a reference (DLRS, or those a preset's
``report.references`` lists), run by run on the same seed.

Runs with the same seed share their initial weights, collocation points or data order, so the
per-seed difference removes most of the seed-to-seed spread that mean ± std columns carry.

* lower is better (the PINN's relative error): the ratio reference / method per seed; reported as
  the geometric mean ratio with a 95 % t-interval on the log ratios (< 1: the reference ends lower);
* higher is better (test accuracy, %): the difference reference - method per seed, its mean and a
  95 % t-interval (> 0: the reference ends higher).

The verdict is the reference's: ``better`` or ``worse`` only where the interval excludes no
difference, else ``not separated`` (also with fewer than two pairs). Pairs where either run did not
end with a finite value (diverged) are left out and counted. Input: one row per run, as in
``tables/<experiment>_runs.csv``, so every committed interval recomputes from that file.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .names import SCHEDULES
from .runs import higher_is_better

REFERENCE = "dlrs"
CONFIDENCE = 0.95
# optimizers that bring their own step size: their runs are named by the optimizer, not the schedule
BASE_OPTIMIZERS = ("adam", "sgd")
PAIRED_COLUMNS = ["reference", "method", "n_pairs", "n_left_out", "reference_wins", "statistic", "estimate", "ci_low",
                  "ci_high", "verdict"]


def method_of(schedule: Any, optimizer: Any) -> str:
    """What a run compares as: its schedule (``dlrs``, ``cosine``, ...) on the base optimizers, else
    its optimizer (``schedule_free_adamw``), or both (``prodigy+cosine``)."""
    if optimizer in BASE_OPTIMIZERS or optimizer is None or (isinstance(optimizer, float) and math.isnan(optimizer)):
        return str(schedule)
    return str(optimizer) if schedule == "static" else f"{optimizer}+{schedule}"


def with_methods(runs: pd.DataFrame) -> pd.DataFrame:
    optimizers = runs["optimizer"] if "optimizer" in runs else [None] * len(runs)
    return runs.assign(method=[method_of(s, o) for s, o in zip(runs["schedule"], optimizers)])


def _order(method: str) -> tuple[int, str]:
    """Methods in the order of the report's legends (experiments.report.names.SCHEDULES)."""
    order = list(SCHEDULES)
    return (order.index(method) if method in order else len(order), method)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high): Student's t-interval of the mean; (mean, nan, nan) below two values."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if len(x) else math.nan
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def verdict(low: float, high: float, no_difference: float) -> str:
    """The reference's verdict for an interval of (reference - method) or (reference / method)
    oriented so that below ``no_difference`` is better for the reference."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not separated"
    return "better" if high < no_difference else "worse" if low > no_difference else "not separated"


def paired_table(runs: pd.DataFrame, cells: Sequence[str], metric: str, higher_is_better: bool,
                 reference: str = REFERENCE) -> pd.DataFrame:
    """One row per (cell, method other than the reference) with n_pairs, reference_wins, the
    estimate with its interval, and the verdict. ``cells``: the columns that define a comparison
    besides the method (frequency; batch size; ...)."""
    runs = with_methods(runs)
    runs = runs[runs["status"].isin(("completed", "diverged"))]
    columns = [*cells, *PAIRED_COLUMNS]
    rows: list[dict[str, Any]] = []
    if reference not in set(runs["method"]):
        return pd.DataFrame(columns=columns)
    for key, cell in runs.groupby(list(cells), dropna=False, sort=True) if cells else [((), runs)]:
        key = key if isinstance(key, tuple) else (key,)
        ref = cell[cell["method"] == reference].set_index("seed")[metric]
        if ref.empty:  # a cell the reference did not run (Prodigy's own lr = 1 in lr_sensitivity)
            continue
        for method in sorted(set(cell["method"]) - {reference}, key=_order):
            other = cell[cell["method"] == method].set_index("seed")[metric]
            seeds = sorted(set(ref.index) & set(other.index))
            a = pd.to_numeric(ref.loc[seeds], errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(other.loc[seeds], errors="coerce").to_numpy(dtype=float)
            usable = np.isfinite(a) & np.isfinite(b) & ((a > 0) & (b > 0) if not higher_is_better else True)
            a, b = a[usable], b[usable]
            row: dict[str, Any] = dict(zip(cells, key))
            row.update(reference=reference, method=method, n_pairs=int(len(a)),
                       n_left_out=int(len(seeds) - len(a)),
                       reference_wins=int((a > b).sum() if higher_is_better else (a < b).sum()))
            if higher_is_better:  # mean difference, reference - method (points of accuracy)
                mean, low, high = t_interval(a - b)
                # better for the reference = positive difference: flip the orientation for verdict()
                row.update(statistic="difference", estimate=mean, ci_low=low, ci_high=high,
                           verdict=verdict(-high, -low, 0.0))
            else:  # geometric mean of reference / method
                mean, low, high = t_interval(np.log(a / b))
                row.update(statistic="ratio", estimate=math.exp(mean), ci_low=math.exp(low) if math.isfinite(low)
                           else math.nan, ci_high=math.exp(high) if math.isfinite(high) else math.nan,
                           verdict=verdict(low, high, 0.0))
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def paired_text(row: pd.Series) -> str:
    """'0.52x [0.31, 0.87]' or '+0.41 [-0.20, +1.02] pts'."""
    if row["statistic"] == "ratio":
        interval = (f" [{row['ci_low']:.3g}, {row['ci_high']:.3g}]" if math.isfinite(row["ci_low"]) else "")
        return f"{row['estimate']:.3g}x{interval}"
    interval = f" [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]" if math.isfinite(row["ci_low"]) else ""
    return f"{row['estimate']:+.2f}{interval} pts"


# cells of a comparison per report layout (a preset's report.layout); the method is compared within each
CELLS = {"pinn": ["frequency"], "ablation": ["frequency", "shuffle"], "batch": ["batch_size"], "rate": ["lr"],
         "lr": ["task", "lr"]}


def labelled(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with ``schedule`` replaced by the method (``method_of``), for tables and figures
    that group by schedule: Schedule-Free AdamW and Prodigy runs use the constant schedule and
    must not be averaged with the constant rate's runs."""
    return runs.assign(schedule=with_methods(runs)["method"]) if len(runs) else runs


def paired_tables(runs: pd.DataFrame, cells: Sequence[str], metric: str, higher_is_better: bool,
                  references: Sequence[str] = (REFERENCE,)) -> pd.DataFrame:
    """``paired_table`` for each reference in turn, each pair once: a later reference is not compared
    again with an earlier one (``[dlrs_epoch_mean, dlrs]``: epoch_mean vs dlrs, vs cosine, ...; then
    dlrs vs cosine, ...)."""
    tables = []
    for i, reference in enumerate(references):
        table = paired_table(runs, cells, metric, higher_is_better, reference)
        tables.append(table[~table["method"].isin(references[:i])])
    tables = [table for table in tables if len(table)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=[*cells, *PAIRED_COLUMNS])


def comparisons(kind: str, runs: pd.DataFrame, references: Sequence[str] = (REFERENCE,)) -> pd.DataFrame:
    """The paired table of one report layout (empty where the layout has none or no reference ran):
    per headline metric of the runs (an error as ratios, an accuracy as differences), against each
    of ``references`` (a preset's ``report.references``)."""
    if kind not in CELLS or runs.empty or "metric" not in runs:
        return pd.DataFrame()
    tables = [paired_tables(group, CELLS[kind], f"final_{metric}", higher_is_better(group.iloc[0]), references)
              for metric, group in runs.groupby("metric", sort=False) if f"final_{metric}" in group]
    tables = [table for table in tables if len(table)]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
