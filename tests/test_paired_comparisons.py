"""Paired comparisons against the reference schedule: the numbers against values worked out by hand,
the verdict rule, what is left out, and the committed tables against their committed runs."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from experiments.report.paired import PAIRED_COLUMNS, corrected, labelled, method_of, paired_table, paired_tables
from experiments.report_layouts import LAYOUTS

REPO = Path(__file__).resolve().parents[1]
T_975_DF2, T_975_DF3 = 4.302652729911275, 3.182446305284263  # Student's t table, two-sided 95 %


def _runs(metric: str, values: dict[str, list[float]], statuses: dict[str, list[str]] | None = None,
          seeds: list[int] | None = None, optimizer: str = "adam") -> pd.DataFrame:
    rows = []
    for schedule, column in values.items():
        for i, value in enumerate(column):
            rows.append({"frequency": 1000, "schedule": schedule, "optimizer": optimizer, "seed": (seeds or [50, 51, 52, 53])[i],
                         "status": (statuses or {}).get(schedule, ["completed"] * len(column))[i], metric: value})
    return pd.DataFrame(rows)


def test_error_ratio_matches_the_hand_computation() -> None:
    # per seed DLRS / cosine: 0.01/0.02, 0.02/0.02, 0.04/0.01 = 1/2, 1, 4 -> log: -ln 2, 0, 2 ln 2
    # geometric mean (1/2 * 1 * 4)^(1/3) = 2^(1/3); sd of the logs: ln 2 * sqrt(((−4/3)² + (−1/3)² + (5/3)²)/2)
    # = ln 2 * sqrt(7/3); half width t(0.975, 2) * sd / sqrt(3)
    runs = _runs("final_rel_error", {"dlrs": [0.01, 0.02, 0.04], "cosine": [0.02, 0.02, 0.01]})
    (row,) = paired_table(runs, ["frequency"], "final_rel_error", higher_is_better=False).to_dict("records")
    half = T_975_DF2 * math.log(2) * math.sqrt(7 / 3) / math.sqrt(3)
    assert (row["method"], row["n_pairs"], row["reference_wins"], row["statistic"]) == ("cosine", 3, 1, "ratio")
    assert row["estimate"] == pytest.approx(2 ** (1 / 3), rel=1e-12)
    assert row["ci_low"] == pytest.approx(2 ** (1 / 3) * math.exp(-half), rel=1e-9)
    assert row["ci_high"] == pytest.approx(2 ** (1 / 3) * math.exp(half), rel=1e-9)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0907946, 17.48343), rel=1e-5)
    assert row["verdict"] == "not separated"


def test_accuracy_difference_matches_the_hand_computation() -> None:
    # DLRS − static per seed: 1, 2, −0.5, 3.5 -> mean 1.5; squared deviations .25 + .25 + 4 + 4 = 8.5,
    # sd = sqrt(8.5 / 3); half width t(0.975, 3) * sd / 2
    runs = _runs("final_test_acc", {"dlrs": [86.0, 85.0, 84.5, 88.0], "static": [85.0, 83.0, 85.0, 84.5]})
    (row,) = paired_table(runs, ["frequency"], "final_test_acc", higher_is_better=True).to_dict("records")
    half = T_975_DF3 * math.sqrt(8.5 / 3) / 2
    assert (row["n_pairs"], row["reference_wins"], row["statistic"]) == (4, 3, "difference")
    assert row["estimate"] == pytest.approx(1.5, rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((1.5 - half, 1.5 + half), rel=1e-12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-1.178428, 4.178428), rel=1e-6)
    assert row["verdict"] == "not separated"


@pytest.mark.parametrize("errors, accuracies, expected", [
    ([0.1, 0.11, 0.09], [85.0, 86.0, 88.0], "better"), ([0.001, 0.0011, 0.0009], [95.0, 96.0, 98.0], "worse"),
    ([0.1, 0.001, 0.01], [95.0, 86.0, 92.0], "not separated")])
def test_a_verdict_only_where_the_interval_excludes_no_difference(errors: list[float], accuracies: list[float],
                                                                  expected: str) -> None:
    runs = _runs("final_rel_error", {"dlrs": [0.01, 0.01, 0.01], "step": errors})
    assert paired_table(runs, ["frequency"], "final_rel_error", False)["verdict"].item() == expected
    runs = _runs("final_test_acc", {"dlrs": [90.0, 91.0, 92.0], "step": accuracies})
    assert paired_table(runs, ["frequency"], "final_test_acc", True)["verdict"].item() == expected


def test_only_seed_pairs_with_two_finite_values_count() -> None:
    runs = _runs("final_rel_error", {"dlrs": [0.01, 0.02, math.nan], "static": [0.1, 0.2, 0.3]},
                 statuses={"dlrs": ["completed", "completed", "diverged"]})
    lone = pd.DataFrame([{"frequency": 1000, "schedule": "static", "optimizer": "adam", "seed": 99,
                          "status": "completed", "final_rel_error": 0.5},
                         {"frequency": 1000, "schedule": "static", "optimizer": "adam", "seed": 98,
                          "status": "running", "final_rel_error": 0.5},
                         {"frequency": 1000, "schedule": "dlrs", "optimizer": "adam", "seed": 98,
                          "status": "running", "final_rel_error": 0.5}])
    (row,) = paired_table(pd.concat([runs, lone]), ["frequency"], "final_rel_error", False).to_dict("records")
    assert (row["n_pairs"], row["n_left_out"], row["reference_wins"]) == (2, 1, 2)  # seed 99 unpaired, 98 unfinished
    assert row["estimate"] == pytest.approx(0.1, rel=1e-12)
    assert math.isnan(paired_table(runs[runs.seed == 50], ["frequency"], "final_rel_error", False)["ci_low"].item())


def test_optimizers_without_a_schedule_compare_as_themselves() -> None:
    assert method_of("dlrs", "adam") == "dlrs" and method_of("adacomp", "sgd") == "adacomp"
    assert method_of("static", "schedule_free_adamw") == "schedule_free_adamw"
    assert method_of("cosine", "prodigy") == "prodigy+cosine"
    runs = pd.concat([_runs("final_rel_error", {"dlrs": [0.01, 0.02], "static": [0.1, 0.2]}),
                      _runs("final_rel_error", {"static": [0.04, 0.08]}, optimizer="prodigy")])
    table = paired_table(runs, ["frequency"], "final_rel_error", False)
    assert dict(zip(table["method"], table["estimate"])) == pytest.approx({"static": 0.1, "prodigy": 0.25})
    assert sorted(labelled(runs)["schedule"].unique()) == ["dlrs", "prodigy", "static"]  # never averaged together


def test_a_new_optimizer_whose_lr_is_a_rate_compares_as_its_schedule(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No list of names: an optimizer config that the schema checks by its class's signature (torch's
    RMSprop, docs/extending.md) takes every schedule, so its runs compare as their schedule, like
    Adam's; a name without a config in configs/optimizer/ is kept apart by that name."""
    from experiments.report import paired

    shutil.copytree(REPO / "configs" / "optimizer", tmp_path / "optimizer")
    (tmp_path / "optimizer" / "rmsprop.yaml").write_text(
        "name: rmsprop\n_target_: torch.optim.RMSprop\n_partial_: true\nlr: ???\n")
    monkeypatch.setattr(paired, "CONFIG_DIR", tmp_path)
    paired.brings_its_own_step_size.cache_clear()
    try:
        assert method_of("dlrs", "rmsprop") == "dlrs" and method_of("static", "lion") == "lion"
        assert method_of("static", "schedule_free_adamw") == "schedule_free_adamw"
    finally:
        paired.brings_its_own_step_size.cache_clear()


def _committed(table_csv: Path) -> pd.DataFrame:
    """A committed paired or contrast table as the report wrote it; ``pooled_over`` as text ('' for a cell row)."""
    committed = pd.read_csv(table_csv, keep_default_na=False, na_values=[""], dtype={"pooled_over": object})
    return committed.assign(pooled_over=committed["pooled_over"].fillna(""))


@pytest.mark.parametrize("paired_csv", sorted((REPO / "results" / "tables").glob("*_paired.csv")),
                         ids=lambda p: p.name)
def test_every_committed_interval_recomputes_from_the_committed_runs(paired_csv: Path) -> None:
    committed = _committed(paired_csv)
    runs = pd.read_csv(paired_csv.with_name(paired_csv.name.replace("_paired.csv", "_runs.csv")))
    cells = [c for c in committed.columns if c not in PAIRED_COLUMNS]
    pooled = next(iter(set(committed["pooled_over"]) - {""}), None)
    # per headline metric (lr_sensitivity holds errors and accuracies), in the order of their names
    references = tuple(committed["reference"].unique())  # in the order the preset lists them
    again = corrected(pd.concat([paired_tables(group, cells, f"final_{metric}", metric == "test_acc", references, pooled)
                                 for metric, group in runs.groupby("metric", sort=True)], ignore_index=True))
    # the runs table holds 10 significant digits: the recomputed intervals agree to 1e-6
    pd.testing.assert_frame_equal(again.reset_index(drop=True), committed, check_dtype=False, rtol=1e-8, atol=1e-6)


def _p_df2(t: float) -> float:
    """Two-sided p of Student's t with 2 degrees of freedom, in closed form: 1 - |t| / sqrt(t² + 2)."""
    return 1 - abs(t) / math.sqrt(t * t + 2)


def test_verdicts_are_holm_adjusted_within_the_table() -> None:
    """Three methods against DLRS on three seeds; DLRS − method per seed: 9, 10, 11 (t = 10·√3),
    2, 3, 4 (t = 3·√3) and -1, 0, 1 (t = 0). Holm: sorted p times 3, 2, 1, running maximum. The
    second is better at 95 % on its own (p = 0.035) but not after the adjustment (0.070)."""
    runs = _runs("final_test_acc", {"dlrs": [90.0, 90.0, 90.0], "static": [81.0, 80.0, 79.0],
                                    "cosine": [88.0, 87.0, 86.0], "step": [91.0, 90.0, 89.0]})
    table = paired_table(runs, ["frequency"], "final_test_acc", higher_is_better=True).set_index("method")
    p = {"static": _p_df2(10 * math.sqrt(3)), "cosine": _p_df2(3 * math.sqrt(3)), "step": 1.0}
    assert (p["static"], p["cosine"]) == pytest.approx((0.0033168, 0.0350981), rel=1e-4)
    assert table["p_value"].to_dict() == pytest.approx(p, rel=1e-9)
    holm = {"static": 3 * p["static"], "cosine": 2 * p["cosine"], "step": 1.0}
    assert table["p_holm"].to_dict() == pytest.approx(holm, rel=1e-9)
    assert table["verdict_uncorrected"].to_dict() == {"static": "better", "cosine": "better", "step": "not separated"}
    assert table["verdict"].to_dict() == {"static": "better", "cosine": "not separated", "step": "not separated"}


def test_pooled_rows_take_every_pair_of_the_pooled_cell() -> None:
    """DLRS − static: 1, 2, 3 at 1000 Hz and 4, 5, 6 at 2000 Hz. Pooled: six pairs, mean 3.5, sd
    sqrt(17.5 / 5); DLRS wins all six: sign test p = 2 / 2⁶. The two per-frequency rows are one family
    (Holm: the smaller p, 2000 Hz's, doubled; then the larger, kept as it is), the pooled row another."""
    runs = pd.concat([_runs("final_test_acc", {"dlrs": [90.0] * 3, "static": [89.0, 88.0, 87.0]}),
                      _runs("final_test_acc", {"dlrs": [90.0] * 3, "static": [86.0, 85.0, 84.0]}).assign(frequency=2000)])
    table = paired_table(runs, ["frequency"], "final_test_acc", True, pooled_over="frequency")
    cell_rows, (pooled,) = table[table["pooled_over"] == ""], table[table["pooled_over"] == "frequency"].to_dict("records")
    assert cell_rows["p_value"].tolist() == pytest.approx([_p_df2(2 * math.sqrt(3)), _p_df2(5 * math.sqrt(3))], rel=1e-9)
    assert cell_rows["p_holm"].tolist() == pytest.approx([_p_df2(2 * math.sqrt(3)), 2 * _p_df2(5 * math.sqrt(3))],
                                                         rel=1e-9)
    assert pooled["p_holm"] == pytest.approx(pooled["p_value"], rel=1e-12)
    half = 2.570581835636314 * math.sqrt(17.5 / 5) / math.sqrt(6)  # t(0.975, 5)
    assert (pooled["n_pairs"], pooled["reference_wins"], math.isnan(pooled["frequency"])) == (6, 6, True)
    assert (pooled["estimate"], pooled["ci_low"], pooled["ci_high"]) == pytest.approx((3.5, 3.5 - half, 3.5 + half), rel=1e-9)
    assert pooled["p_sign"] == pytest.approx(2 / 2**6, rel=1e-12)
    assert pooled["verdict"] == "better"


def test_too_few_pairs_get_no_verdict() -> None:
    runs = _runs("final_test_acc", {"dlrs": [90.0, 91.0], "static": [80.0, 80.5]})
    (row,) = paired_table(runs, ["frequency"], "final_test_acc", True).to_dict("records")
    assert (row["n_pairs"], row["verdict_uncorrected"], row["verdict"]) == (2, "better", "too few pairs")
    assert math.isnan(row["p_holm"])


def test_the_rate_study_pairs_each_task_on_its_own_metric() -> None:
    """lr_sensitivity: the PINN's errors as ratios, the images' accuracies as differences, each
    within (task, initial rate); Prodigy's own multiplier (lr = 1), which DLRS never ran, gives no row."""
    from experiments.report.paired import comparisons

    pinn = _runs("final_rel_error", {"dlrs": [0.01, 0.02, 0.04], "cosine": [0.02, 0.02, 0.01]})
    images = _runs("final_test_acc", {"dlrs": [86.0, 85.0, 84.5, 88.0], "static": [85.0, 83.0, 85.0, 84.5]})
    prodigy = _runs("final_test_acc", {"static": [80.0, 81.0]}, optimizer="prodigy")
    runs = pd.concat([pinn.assign(task="helmholtz", metric="rel_error", lr=1e-3),
                      images.assign(task="fashion_mnist", metric="test_acc", lr=1e-3),
                      prodigy.assign(task="fashion_mnist", metric="test_acc", lr=1.0)], ignore_index=True)
    table = comparisons("lr", runs)
    assert sorted(zip(table["task"], table["lr"], table["method"], table["statistic"])) == [
        ("fashion_mnist", 1e-3, "static", "difference"), ("helmholtz", 1e-3, "cosine", "ratio")]
    by_task = table.set_index("task")
    assert by_task.loc["helmholtz", "estimate"] == pytest.approx(2 ** (1 / 3), rel=1e-12)  # as worked out above
    assert by_task.loc["fashion_mnist", "estimate"] == pytest.approx(1.5, rel=1e-12)


def test_several_references_compare_each_pair_once() -> None:
    """report.references [dlrs_epoch_mean, dlrs]: epoch_mean against dlrs and cosine, then dlrs
    against cosine only (its pair with epoch_mean is already there, the other way round)."""
    runs = _runs("final_rel_error", {"dlrs": [0.01, 0.02, 0.04], "cosine": [0.02, 0.02, 0.01],
                                     "dlrs_epoch_mean": [0.005, 0.01, 0.02]})
    table = paired_tables(runs, ["frequency"], "final_rel_error", False, ("dlrs_epoch_mean", "dlrs"))
    assert list(zip(table["reference"], table["method"])) == [
        ("dlrs_epoch_mean", "dlrs"), ("dlrs_epoch_mean", "cosine"), ("dlrs", "cosine")]
    # epoch_mean / dlrs is 1/2 on every seed: the interval has no width and excludes 1
    first = table.iloc[0]
    assert (first["estimate"], first["ci_low"], first["ci_high"]) == pytest.approx((0.5, 0.5, 0.5), rel=1e-12)
    assert (first["reference_wins"], first["verdict"]) == (3, "better")
    assert table.iloc[1]["estimate"] == pytest.approx(2 ** (1 / 3) / 2, rel=1e-12)  # (1/4 * 1/2 * 2)^(1/3)
    assert table.iloc[2]["estimate"] == pytest.approx(2 ** (1 / 3), rel=1e-12)      # as worked out above


def test_a_contrast_pairs_each_method_with_itself_across_the_two_values() -> None:
    """The ablation's batch-order table: each method reshuffled / fixed order on the same seed.
    DLRS: 0.02/0.01, 0.02/0.02, 0.01/0.04 = 2, 1, 1/4 (logs ln 2 · (1, 0, -2), t = -1/√7); static:
    0.8/0.1, 1.0/0.1, 1.2/0.1 = 8, 10, 12. Holm over the two: the smaller p doubled. A method that ran
    at one batch order only has no row."""
    from experiments.report.paired import contrasts

    fixed = _runs("final_rel_error", {"dlrs": [0.01, 0.02, 0.04], "static": [0.1, 0.1, 0.1], "cosine": [0.1] * 3})
    reshuffled = _runs("final_rel_error", {"dlrs": [0.02, 0.02, 0.01], "static": [0.8, 1.0, 1.2]})
    runs = pd.concat([fixed.assign(shuffle=False), reshuffled.assign(shuffle=True)], ignore_index=True)
    table = contrasts("ablation", runs.assign(metric="rel_error")).set_index("method")
    assert sorted(table.index) == ["dlrs", "static"]
    assert (table["baseline"].tolist(), table["changed"].tolist()) == ([False] * 2, [True] * 2)
    assert table.loc["dlrs", "estimate"] == pytest.approx(2 ** (-1 / 3), rel=1e-12)
    assert table.loc["static", "estimate"] == pytest.approx((8 * 10 * 12) ** (1 / 3), rel=1e-12)
    logs = [math.log(8), math.log(10), math.log(12)]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    p = {"dlrs": _p_df2(1 / math.sqrt(7)), "static": _p_df2(mean / (sd / math.sqrt(3)))}
    assert table["p_value"].to_dict() == pytest.approx(p, rel=1e-9)
    assert table["p_holm"].to_dict() == pytest.approx({"dlrs": p["dlrs"], "static": 2 * p["static"]}, rel=1e-9)
    assert table["changed_wins"].to_dict() == {"dlrs": 1, "static": 0}
    assert table["verdict"].to_dict() == {"dlrs": "not separated", "static": "worse"}  # the reshuffle costs static


@pytest.mark.parametrize("contrast_csv", sorted(path for name in {layout.contrast for layout in LAYOUTS.values()} - {None}
                                                 for path in (REPO / "results" / "tables").glob(f"*_{name}.csv")),
                         ids=lambda p: p.name)
def test_every_committed_contrast_recomputes_from_the_committed_runs(contrast_csv: Path) -> None:
    from experiments.report.paired import contrasts

    committed = _committed(contrast_csv)
    runs = pd.read_csv(contrast_csv.with_name(contrast_csv.name.rsplit("_", 1)[0] + "_runs.csv"))
    layout = next(name for name, layout in LAYOUTS.items() if layout.contrast and contrast_csv.stem.endswith(layout.contrast))
    again = contrasts(layout, runs)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), committed, check_dtype=False, rtol=1e-8, atol=1e-6)
