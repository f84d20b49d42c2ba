"""Paired comparisons: each method against a reference (DLRS, or those a preset's
``report.references`` lists), run by run on the same seed.

Runs with the same seed share their initial weights, collocation points or data order, so the
per-seed difference removes most of the seed-to-seed spread that mean ± std columns carry.

* lower is better (the PINN's relative error): the ratio reference / method per seed; reported as
  the geometric mean ratio with a 95 % t-interval on the log ratios (< 1: the reference ends lower);
* higher is better (test accuracy, %): the difference reference - method per seed, its mean and a
  95 % t-interval (> 0: the reference ends higher).

A table makes many comparisons (every cell, method and reference), so its verdicts are corrected
for them: each row's t-test p-value (the dual of its interval) is adjusted by Holm's method within
the table's family, and the verdict is the reference's, ``better`` or ``worse`` only where the
adjusted p is below 0.05, else ``not separated``; ``verdict_uncorrected`` keeps the interval's own.
Two families per table and task: the per-cell rows, and the pooled rows (``pooled_over``: the pairs
of every frequency, batch size or rate together, with a sign test's p beside the t-test's). A row with fewer
than MIN_PAIRS pairs gets no verdict. Pairs where either run did not end with a finite value
(diverged) are left out and counted. Input: one row per run, as in ``tables/<experiment>_runs.csv``,
so every committed table recomputes from that file.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ..report_layouts import LAYOUTS
from ..schema import CONFIG_DIR
from ..schema.optimizer import OPTIMIZERS
from .names import SCHEDULES
from .runs import higher_is_better

REFERENCE = "dlrs"
CONFIDENCE = 0.95
# fewer pairs than this: a t-interval on 2 pairs has 1 degree of freedom and means little; no verdict
MIN_PAIRS = 3
PAIRED_COLUMNS = ["pooled_over", "reference", "method", "n_pairs", "n_left_out", "reference_wins", "statistic",
                  "estimate", "ci_low", "ci_high", "p_value", "p_sign", "verdict_uncorrected", "p_holm", "verdict"]


@functools.lru_cache(maxsize=None)
def brings_its_own_step_size(optimizer: str) -> bool:
    """Whether the optimizer of configs/optimizer/<optimizer>.yaml brings its own step size, as its
    schema declares by refusing the schedules that set rates of their own (experiments/schema/
    optimizer.py, ``takes_rates``: Schedule-Free AdamW replaces the schedule, Prodigy's lr multiplies
    its own estimate). One whose lr is a rate (Adam, SGD, any class the schema checks by its
    signature) is a base the schedules are compared on. No such config: an unknown optimizer, kept
    apart by its name."""
    path = CONFIG_DIR / "optimizer" / f"{optimizer}.yaml"
    if not path.is_file():
        return True
    schema = OPTIMIZERS.schemas.get(OmegaConf.load(path).get("_target_"), OPTIMIZERS.base)
    return "absolute" not in schema.takes_rates


def method_of(schedule: Any, optimizer: Any) -> str:
    """What a run compares as: its schedule (``dlrs``, ``cosine``, ...) on a base optimizer, else
    its optimizer (``schedule_free_adamw``), or both (``prodigy+cosine``)."""
    if optimizer is None or (isinstance(optimizer, float) and math.isnan(optimizer)) \
            or not brings_its_own_step_size(str(optimizer)):
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


def t_test_p(values: Sequence[float]) -> float:
    """Two-sided p-value of Student's one-sample t-test of mean 0 (the dual of ``t_interval``: the
    95 % interval excludes 0 exactly when p < 0.05); nan below two values. No spread: 0 or 1."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return math.nan
    if x.std(ddof=1) == 0:
        return 1.0 if x.mean() == 0 else 0.0
    return float(stats.ttest_1samp(x, 0.0).pvalue)


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided sign test (exact binomial, p = 1/2) of wins against losses; ties left out."""
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else math.nan


def verdict(low: float, high: float, no_difference: float) -> str:
    """The reference's verdict for an interval of (reference - method) or (reference / method)
    oriented so that below ``no_difference`` is better for the reference."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not separated"
    return "better" if high < no_difference else "worse" if low > no_difference else "not separated"


def _compare(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> dict[str, Any]:
    """The paired statistics of the reference's values ``a`` against the method's ``b`` (same seeds):
    wins, the estimate with its interval, the t-test's and the sign test's p-values, and the
    uncorrected verdict of the interval."""
    wins = int((a > b).sum() if higher_is_better else (a < b).sum())
    losses = int((a < b).sum() if higher_is_better else (a > b).sum())
    if higher_is_better:  # mean difference, reference - method (points of accuracy)
        x = a - b
        mean, low, high = t_interval(x)
        # better for the reference = positive difference: flip the orientation for verdict()
        row = dict(statistic="difference", estimate=mean, ci_low=low, ci_high=high,
                   verdict_uncorrected=verdict(-high, -low, 0.0))
    else:  # geometric mean of reference / method
        x = np.log(a / b)
        mean, low, high = t_interval(x)
        row = dict(statistic="ratio", estimate=math.exp(mean), ci_low=math.exp(low) if math.isfinite(low) else math.nan,
                   ci_high=math.exp(high) if math.isfinite(high) else math.nan, verdict_uncorrected=verdict(low, high, 0.0))
    return dict(n_pairs=int(len(a)), reference_wins=wins, **row, p_value=t_test_p(x), p_sign=sign_test_p(wins, losses))


def _pairs(cell: pd.DataFrame, reference: str, method: str, metric: str, higher_is_better: bool
           ) -> tuple[np.ndarray, np.ndarray, int]:
    """The reference's and the method's values on the seeds both ran with a usable value (finite;
    positive for ratios), and how many common seeds were left out."""
    ref = cell[cell["method"] == reference].set_index("seed")[metric]
    other = cell[cell["method"] == method].set_index("seed")[metric]
    seeds = sorted(set(ref.index) & set(other.index))
    a = pd.to_numeric(ref.loc[seeds], errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(other.loc[seeds], errors="coerce").to_numpy(dtype=float)
    usable = np.isfinite(a) & np.isfinite(b) & ((a > 0) & (b > 0) if not higher_is_better else True)
    return a[usable], b[usable], int(len(seeds) - usable.sum())


def paired_table(runs: pd.DataFrame, cells: Sequence[str], metric: str, higher_is_better: bool,
                 reference: str = REFERENCE, pooled_over: Optional[str] = None) -> pd.DataFrame:
    """One row per (cell, method other than the reference) with n_pairs, reference_wins, the
    estimate with its interval, p-values and the uncorrected verdict (``corrected`` adds the
    verdict of the table's family). ``cells``: the columns that define a comparison besides the
    method (frequency; batch size; ...). ``pooled_over``: one of ``cells``; then also one row per
    method and value of the other cells with the pairs of every value of that column together
    (its value left empty, ``pooled_over`` names it), where it has more than one value."""
    runs = with_methods(runs)
    runs = runs[runs["status"].isin(("completed", "diverged"))]
    columns = [*cells, *PAIRED_COLUMNS]
    rows: list[dict[str, Any]] = []
    if reference not in set(runs["method"]):
        return pd.DataFrame(columns=columns)
    for by, key, pooled, cell in _cells(runs, cells, pooled_over):
        if not (cell["method"] == reference).any():  # a cell the reference did not run (Prodigy's lr = 1)
            continue
        for method in sorted(set(cell["method"]) - {reference}, key=_order):
            a, b, left_out = _pairs(cell, reference, method, metric, higher_is_better)
            if pooled and len({value for _, value in cell.loc[cell["method"] == method, "seed"]}) < 2:
                continue  # the method ran at one value of the pooled column: its cell row says it all
            row: dict[str, Any] = {**dict(zip(by, key)), **({pooled: math.nan} if pooled else {})}
            row.update(reference=reference, method=method, n_left_out=left_out, pooled_over=pooled or "",
                       **_compare(a, b, higher_is_better))
            rows.append(row)
    return corrected(pd.DataFrame(rows, columns=columns))


def _cells(runs: pd.DataFrame, cells: Sequence[str], pooled_over: Optional[str]
           ) -> Iterator[tuple[list[str], tuple, Optional[str], pd.DataFrame]]:
    """(columns, their values, pooled column or None, runs) of each cell of ``cells``, then, where
    ``pooled_over`` has several values, of each cell without it; there a pair's "seed" is
    (seed, value of the pooled column), so that the pairs of every value count."""
    groupings = [(list(cells), None)]
    if pooled_over is not None and runs[pooled_over].nunique(dropna=False) > 1:
        groupings.append(([c for c in cells if c != pooled_over], pooled_over))
    for by, pooled in groupings:
        for key, cell in runs.groupby(by, dropna=False, sort=True) if by else [((), runs)]:
            cell = cell.assign(seed=list(zip(cell["seed"], cell[pooled]))) if pooled else cell
            yield by, key if isinstance(key, tuple) else (key,), pooled, cell


CONTRAST_COLUMNS = ["pooled_over", "method", "baseline", "changed", "n_pairs", "n_left_out", "changed_wins",
                    *PAIRED_COLUMNS[PAIRED_COLUMNS.index("statistic"):]]


def contrast_table(runs: pd.DataFrame, cells: Sequence[str], contrast: str, metric: str, higher_is_better: bool,
                   pooled_over: Optional[str] = None) -> pd.DataFrame:
    """Each method against itself with ``contrast`` changed (one of ``cells``, two values; the first,
    sorted, is the baseline): per value of the other cells and method, the run at the changed value
    against the run at the baseline on the same seed (a ratio changed / baseline for an error, a
    difference changed - baseline for an accuracy), with the statistics and corrected verdicts of
    ``paired_table``: ``better`` means the changed value ends better. ``pooled_over``: as there."""
    runs = with_methods(runs)
    runs = runs[runs["status"].isin(("completed", "diverged"))]
    others = [c for c in cells if c != contrast]
    values = sorted(runs[contrast].dropna().unique())
    if len(values) != 2:
        return pd.DataFrame(columns=[*others, *CONTRAST_COLUMNS])
    baseline, changed = values
    runs = runs.assign(side=np.where(runs[contrast] == changed, "changed", "baseline"))
    rows: list[dict[str, Any]] = []
    for by, key, pooled, cell in _cells(runs, others, pooled_over):
        for method in sorted(set(cell["method"]), key=_order):
            both = cell[cell["method"] == method].assign(method=lambda frame: frame["side"])
            a, b, left_out = _pairs(both, "changed", "baseline", metric, higher_is_better)
            if not len(a) and not left_out:
                continue  # the method ran at one value of the contrast only
            stats_row = _compare(a, b, higher_is_better)
            rows.append({**dict(zip(by, key)), **({pooled: math.nan} if pooled else {}),
                         "pooled_over": pooled or "", "method": method, "baseline": baseline, "changed": changed,
                         "n_left_out": left_out, "changed_wins": stats_row.pop("reference_wins"), **stats_row})
    return corrected(pd.DataFrame(rows, columns=[*others, *CONTRAST_COLUMNS]))


def contrasts(layout: str, runs: pd.DataFrame) -> pd.DataFrame:
    """The contrast table of the report layout named ``layout`` (its ``contrast``: what changing that
    column does to each method), per headline metric, pooled as ``comparisons`` pools; empty where
    the layout has none or the runs hold one value of it."""
    spec = LAYOUTS[layout]
    if spec.contrast is None or runs.empty or "metric" not in runs:
        return pd.DataFrame()
    cells = list(spec.cells)
    return _per_metric(runs, lambda group, metric, higher: contrast_table(
        group, cells, spec.contrast, metric, higher, pooled_cell([c for c in cells if c != spec.contrast])))


def _per_metric(runs: pd.DataFrame, table_of: Callable[[pd.DataFrame, str, bool], pd.DataFrame]) -> pd.DataFrame:
    """``table_of(runs of one headline metric, "final_<metric>", higher is better)`` for each metric
    the runs measure, in one table whose verdicts are corrected together (it prints every comparison
    it counts); empty where none has rows."""
    tables = [table_of(group, f"final_{metric}", higher_is_better(group.iloc[0]))
              for metric, group in runs.groupby("metric", sort=True) if f"final_{metric}" in group]
    tables = [table for table in tables if len(table)]
    return corrected(pd.concat(tables, ignore_index=True)) if tables else pd.DataFrame()


def corrected(table: pd.DataFrame) -> pd.DataFrame:
    """The verdicts of ``table`` corrected for its many comparisons: Holm's step-down adjustment
    (statsmodels' ``multipletests``) of the t-test p-values within each family, and ``better`` or
    ``worse`` where the adjusted p is below 1 - CONFIDENCE, by the sign of the estimate. A family:
    the table's per-cell rows of one task, or its pooled rows of one task (a table of one task, as
    most are, has two). A row with fewer than MIN_PAIRS pairs is in no family: ``too few pairs``."""
    table = table.copy()
    table["p_holm"] = math.nan
    table["verdict"] = "too few pairs"
    enough = (table["n_pairs"] >= MIN_PAIRS) & table["p_value"].notna()
    tasks = table["task"] if "task" in table else pd.Series("", index=table.index)
    for _, family in table[enough].groupby([tasks[enough], table.loc[enough, "pooled_over"]], sort=False):
        _, adjusted, _, _ = multipletests(family["p_value"].to_numpy(dtype=float), alpha=1 - CONFIDENCE,
                                          method="holm")
        table.loc[family.index, "p_holm"] = adjusted
    better_side = np.where(table["statistic"] == "ratio", table["estimate"] < 1, table["estimate"] > 0)
    separated = table["p_holm"] < 1 - CONFIDENCE
    table.loc[enough, "verdict"] = "not separated"
    table.loc[enough & separated & better_side, "verdict"] = "better"
    table.loc[enough & separated & ~better_side, "verdict"] = "worse"
    return table


def paired_text(row: pd.Series) -> str:
    """'0.52x [0.31, 0.87]' or '+0.41 [-0.20, +1.02] pts'."""
    if row["statistic"] == "ratio":
        interval = (f" [{row['ci_low']:.3g}, {row['ci_high']:.3g}]" if math.isfinite(row["ci_low"]) else "")
        return f"{row['estimate']:.3g}x{interval}"
    interval = f" [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}]" if math.isfinite(row["ci_low"]) else ""
    return f"{row['estimate']:+.2f}{interval} pts"


def pooled_cell(cells: Sequence[str]) -> Optional[str]:
    return next((c for c in cells if c != "task"), None)


def labelled(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with ``schedule`` replaced by the method (``method_of``), for tables and figures
    that group by schedule: Schedule-Free AdamW and Prodigy runs use the constant schedule and
    must not be averaged with the constant rate's runs."""
    return runs.assign(schedule=with_methods(runs)["method"]) if len(runs) else runs


def paired_tables(runs: pd.DataFrame, cells: Sequence[str], metric: str, higher_is_better: bool,
                  references: Sequence[str] = (REFERENCE,), pooled_over: Optional[str] = None) -> pd.DataFrame:
    """``paired_table`` for each reference in turn, each pair once: a later reference is not compared
    again with an earlier one (``[dlrs_epoch_mean, dlrs]``: epoch_mean vs dlrs, vs cosine, ...; then
    dlrs vs cosine, ...). The verdicts are corrected over all of them (one family per kind of row)."""
    tables = []
    for i, reference in enumerate(references):
        table = paired_table(runs, cells, metric, higher_is_better, reference, pooled_over)
        tables.append(table[~table["method"].isin(references[:i])])
    tables = [table for table in tables if len(table)]
    return corrected(pd.concat(tables, ignore_index=True)) if tables else pd.DataFrame(columns=[*cells, *PAIRED_COLUMNS])


def comparisons(layout: str, runs: pd.DataFrame, references: Sequence[str] = (REFERENCE,)) -> pd.DataFrame:
    """The paired table of the report layout named ``layout`` (experiments/report_layouts.py), within
    its cells, and once more over all values of the first cell that is not the task (the pooled
    rows); empty where the layout has no cells or no reference ran. Per headline metric of the runs
    (an error as ratios, an accuracy as differences), against each of ``references`` (a preset's
    ``report.references``)."""
    cells = list(LAYOUTS[layout].cells)
    if not cells or runs.empty or "metric" not in runs:
        return pd.DataFrame()
    return _per_metric(runs, lambda group, metric, higher: paired_tables(group, cells, metric, higher, references,
                                                                        pooled_cell(cells)))
