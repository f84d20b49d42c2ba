"""Tables: runs aggregated over seeds (mean ± std), written as CSV (numbers) and Markdown (text)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..constants import STATUS_ORDER
from ..io import write_text_atomic
from ..report_layouts import LAYOUTS, Layout
from .names import ARCH_NAMES, PAPER_TABLE1, SCHEDULES
from .runs import higher_is_better
from .paired import CONTRAST_COLUMNS, MIN_PAIRS, PAIRED_COLUMNS, paired_text

# ---- aggregation over seeds --------------------------------------------------------------------
def status_text(statuses: Sequence[str]) -> str:
    """'completed', 'diverged', or counts such as '2 completed, 1 diverged'."""
    counts = Counter(str(s) for s in statuses)
    if len(counts) == 1:
        return next(iter(counts))
    order = sorted(counts, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER))
    return ", ".join(f"{counts[s]} {s}" for s in order)


def _rank(column: str, value: Any) -> tuple:
    """Sort key that puts schedules and architectures in the paper's order."""
    order = list(SCHEDULES) if column == "schedule" else list(PAPER_TABLE1) if column == "model" else None
    if order is not None:
        return (order.index(value) if value in order else len(order), str(value))
    return (0, value) if isinstance(value, (int, float)) and not pd.isna(value) else (1, str(value))


def aggregate(runs: pd.DataFrame, by: Sequence[str], values: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by``: n_seeds, n_diverged, status and <value>_mean / <value>_std over seeds.

    Diverged runs are counted but left out of the means; the std of a single seed is NaN.
    """
    rows = []
    for key, group in runs.groupby(list(by), dropna=False, sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        usable = group[group["status"] != "diverged"]
        row.update(n_seeds=len(group), n_diverged=int((group["status"] == "diverged").sum()),
                   status=status_text(list(group["status"])))
        for value in values:
            col = pd.to_numeric(usable[value], errors="coerce") if value in usable else pd.Series(dtype=float)
            row[f"{value}_mean"] = col.mean() if col.notna().any() else float("nan")
            row[f"{value}_std"] = col.std(ddof=1) if col.notna().sum() > 1 else float("nan")
        rows.append(row)
    rows.sort(key=lambda r: tuple(_rank(c, r[c]) for c in by))
    return pd.DataFrame(rows)


def mean_std_text(mean: float, std: float, fmt: str, all_diverged: bool = False) -> str:
    """'91.30 ± 0.12'; '91.30 ± —' for one seed; '—' for no value; 'diverged' if every seed diverged."""
    if all_diverged:
        return "diverged"
    if mean is None or not math.isfinite(mean):
        return "—"
    return f"{mean:{fmt}} ± " + ("—" if std is None or not math.isfinite(std) else f"{std:{fmt}}")


# ---- tables ------------------------------------------------------------------------------------
def to_markdown(df: pd.DataFrame) -> str:
    """A pipe table (GitHub Markdown) with padded columns; no dependency on `tabulate`."""
    cells = [[str(c) for c in df.columns]] + [["" if v is None else str(v).replace("|", "\\|") for v in row]
                                              for row in df.itertuples(index=False)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(df.columns))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def _g(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.number)) and not pd.isna(value) else str(value)


def _pm(agg: pd.DataFrame, value: str, fmt: str) -> list[str]:
    return [mean_std_text(r[f"{value}_mean"], r[f"{value}_std"], fmt, r["n_diverged"] == r["n_seeds"])
            for _, r in agg.iterrows()]


def _schedule_label(name: Any) -> str:
    return SCHEDULES.get(name, (str(name), None))[0]


Table = tuple[pd.DataFrame, pd.DataFrame, str]  # numeric (CSV), formatted (Markdown), caption


def build_table(layout: str, runs: pd.DataFrame) -> Table:
    """(numeric table for CSV, formatted table for Markdown, caption) in the report layout named
    ``layout`` (experiments/report_layouts.py)."""
    declared = LAYOUTS[layout]
    return TABLES[declared.table](runs, declared)


# a panel column's title in the tables (the paired tables: paired_markdown); others: its name, capitalised
PANEL_TITLES = {"frequency": "Frequency (Hz)", "shuffle": "Batches", "lr": "Initial lr"}


def _panel_columns(agg: pd.DataFrame, layout: Layout) -> dict[str, pd.Series]:
    return {PANEL_TITLES.get(c, c.replace("_", " ").capitalize()): agg[c].map(lambda v, c=c: cell_text(c, v))
            for c in layout.panels}


def cell_text(column: str, value: Any) -> str:
    """A panel's or a cell's value as text (a batch order in words)."""
    return batch_order_text(value) if column == "shuffle" else _g(value)


def _schedules_table(runs: pd.DataFrame, layout: Layout) -> Table:
    """A row per panel value and method, mean ± std over seeds: the PINN's columns where the runs
    measure an error, the image tasks' where they measure an accuracy."""
    if not any(higher_is_better(run) for _, run in runs.iterrows()):
        return _error_table(runs, layout)
    by = [*layout.panels, "schedule"]
    agg = aggregate(runs, by, ["final_test_acc", "best_test_acc", "final_train_loss", "final_lr"]
                    + (RULE_VALUES if layout.rule_statistics else []))
    panels = _panel_columns(agg, layout)
    shown = pd.DataFrame({**panels,
                          "Schedule": agg["schedule"].map(_schedule_label),
                          "Final test acc (%)": _pm(agg, "final_test_acc", ".2f"),
                          "Best test acc (%)": _pm(agg, "best_test_acc", ".2f"),
                          "Final train loss": _pm(agg, "final_train_loss", ".3g"),
                          "Final lr": _pm(agg, "final_lr", ".2e"),
                          "Seeds": agg["n_seeds"], "Status": agg["status"],
                          **_rule_columns(runs, agg, by, layout)})
    return agg, shown, (f"Test accuracy, training loss and the last epoch's rate per "
                        f"{' and '.join(title.lower() for title in panels)} and schedule" + _rule_caption(layout))


PINN_VALUES = ["final_rel_error", "best_rel_error", "best_epoch", "first_epoch_below_1pct", "final_lr",
               "final_train_loss", "total_time_s"]
RULE_VALUES = ["stagnant_pct", "early_abs_slope", "first_epoch_at_min_lr", "at_min_lr_pct"]  # layouts with rule_statistics


def _first_epoch(runs: pd.DataFrame, agg: pd.DataFrame, by: list[str], value: str, count: str) -> list[str]:
    """``1234 (2/3)``: the mean first epoch over the seeds that got there, and how many did (stored in
    agg[count]); ``never (0/3)``."""
    reached = runs.assign(_hit=pd.to_numeric(runs.get(value), errors="coerce").notna())
    hits = reached.groupby(by, dropna=False, sort=False)["_hit"].sum()
    counts = [int(hits.get(tuple(r[c] for c in by), 0)) for _, r in agg.iterrows()]
    agg[count] = counts
    return [f"{m:.0f} ({n}/{k})" if n else f"never (0/{k})"
            for m, n, k in zip(agg[f"{value}_mean"], counts, agg["n_seeds"])]


def batch_order_text(shuffle: Any) -> str:
    """task.shuffle as words (runs from before the option reshuffled: None, NaN in a table)."""
    if shuffle is None or (isinstance(shuffle, float) and math.isnan(shuffle)):
        return "reshuffled"
    return "reshuffled" if bool(shuffle) else "fixed order"


def _error_table(runs: pd.DataFrame, layout: Layout) -> Table:
    by = [*layout.panels, "schedule"]
    agg = aggregate(runs, by, PINN_VALUES + (RULE_VALUES if layout.rule_statistics else []))
    columns: dict[str, Any] = _panel_columns(agg, layout)
    first = _first_epoch(runs, agg, by, "first_epoch_below_1pct", "n_below_1pct")
    columns.update({
        "Schedule": agg["schedule"].map(_schedule_label), "Seeds": agg["n_seeds"],
        "Final rel. error": _pm(agg, "final_rel_error", ".2e"), "Best rel. error": _pm(agg, "best_rel_error", ".2e"),
        "Best at epoch": _pm(agg, "best_epoch", ".0f"), "First epoch < 1 % (seeds)": first,
        "Final lr": _pm(agg, "final_lr", ".2e"), "Final loss": _pm(agg, "final_train_loss", ".2e"),
        "Time (s)": _pm(agg, "total_time_s", ".1f"), "Status": agg["status"]})
    caption = ("Helmholtz PINN: final and best relative L2 error, the first epoch below 1 % (the authors' stopping "
               "rule), the rate in the last epoch, final loss, run time")
    return agg, pd.DataFrame({**columns, **_rule_columns(runs, agg, by, layout)}), caption + _rule_caption(layout)


def _rule_columns(runs: pd.DataFrame, agg: pd.DataFrame, by: list[str], layout: Layout) -> dict[str, list[str]]:
    """The rule's side of a table whose layout asks for it (``rule_statistics``; ``agg`` aggregated
    RULE_VALUES): how often it saw a stagnant epoch, how noisy its slope was, time at its floor."""
    if not layout.rule_statistics:
        return {}
    at_floor = _first_epoch(runs, agg, by, "first_epoch_at_min_lr", "n_at_min_lr")
    return {"Stagnant epochs (%)": _pm(agg, "stagnant_pct", ".0f"),
            "Mean abs. slope, first third": _pm(agg, "early_abs_slope", ".3f"),
            "First epoch at min lr (seeds)": [text if rule else "—" for text, rule in
                                              zip(at_floor, agg["stagnant_pct_mean"].notna())],
            "Epochs at min lr (%)": _pm(agg, "at_min_lr_pct", ".0f")}


def _rule_caption(layout: Layout) -> str:
    return ("; for the loss-driven rules, the share of epochs they called stagnant, their mean |slope| "
            "over the first third of the epochs (each rule's own slope: (L_B - L_1) / mean L for the paper's), the "
            "first epoch at the lower bound min_lr (within 5 %; mean over the seeds that reached it) and the share "
            "of epochs spent there") if layout.rule_statistics else ""


def _lr_table(runs: pd.DataFrame) -> Table:
    """Final metric per task, initial rate and schedule: does the schedule remove the need to tune the rate?"""
    runs = runs.assign(final_metric=[r.get(f"final_{r.get('metric')}") for _, r in runs.iterrows()],
                       higher_is_better=runs.apply(higher_is_better, axis=1))
    rates = ["final_lr", "peak_lr"] if "peak_lr" in runs else ["final_lr"]  # runs of before 2026-12-07: no peak
    agg = aggregate(runs, ["task", "lr", "schedule"], ["final_metric", *rates])
    agg["higher_is_better"] = agg["task"].map(runs.groupby("task")["higher_is_better"].first())
    bounds = runs[runs["status"] != "diverged"].groupby(["task", "lr", "schedule"])["final_metric"]
    agg["final_metric_min"] = [bounds.min().get(k, math.nan) for k in zip(agg["task"], agg["lr"], agg["schedule"])]
    agg["final_metric_max"] = [bounds.max().get(k, math.nan) for k in zip(agg["task"], agg["lr"], agg["schedule"])]
    shown = pd.DataFrame({"Task": agg["task"], "Initial lr": agg["lr"].map(_g),
                          "Schedule": agg["schedule"].map(_schedule_label),
                          "Final metric (rel. error / test acc %)": _pm(agg, "final_metric", ".3g"),
                          "Final lr": _pm(agg, "final_lr", ".2e"),
                          **({"Peak lr": _pm(agg, "peak_lr", ".2e")} if "peak_lr" in runs else {}),
                          "Seeds": agg["n_seeds"], "Status": agg["status"]})
    return agg, shown, "Sensitivity to the initial learning rate: final metric per task, initial rate and schedule"


ERROR_FACTOR, ACCURACY_POINTS = 2.0, 1.0  # "near its best": within 2x of the error, within 1 point of the accuracy


def lr_robustness(agg: pd.DataFrame) -> pd.DataFrame:
    """One number per task and method from ``_lr_table``'s rows: over how many decades of initial
    rate it ends near its own best (mean over seeds within 2x of the best error; within 1 point of
    the best accuracy), counting the contiguous grid rates around the best one; a rate where a seed
    diverged is never near. 0: only the best rate; the grid's ends bound the answer."""
    rows = []
    for (task, method), sub in agg.groupby(["task", "schedule"], sort=False):
        sub = sub.sort_values("lr").reset_index(drop=True)
        error = not sub["higher_is_better"].iloc[0]
        values = [v if n == 0 and math.isfinite(v) else (math.inf if error else -math.inf)
                  for v, n in zip(sub["final_metric_mean"], sub["n_diverged"])]
        best = int(np.argmin(values) if error else np.argmax(values))
        near = [(v <= ERROR_FACTOR * values[best]) if error else (v >= values[best] - ACCURACY_POINTS) for v in values]
        lo = hi = best
        while lo > 0 and near[lo - 1]:
            lo -= 1
        while hi < len(values) - 1 and near[hi + 1]:
            hi += 1
        lrs = sub["lr"].astype(float)
        rows.append({"task": task, "schedule": method, "n_rates": len(sub), "best_lr": lrs[best],
                     "best_final_metric": values[best], "near_low_lr": lrs[lo], "near_high_lr": lrs[hi],
                     "decades_near_best": math.log10(lrs[hi] / lrs[lo]),
                     "at_grid_edge": bool(lo == 0 or hi == len(values) - 1)})
    rows.sort(key=lambda r: (str(r["task"]), _rank("schedule", r["schedule"])))
    return pd.DataFrame(rows)


def lr_robustness_markdown(robust: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "Task": robust["task"], "Schedule": robust["schedule"].map(_schedule_label),
        "Rates run": robust["n_rates"], "Best initial lr": robust["best_lr"].map(_g),
        "Best final metric": robust["best_final_metric"].map(lambda v: f"{v:.3g}"),
        "Near best from – to": [f"{_g(a)} – {_g(b)}" for a, b in zip(robust["near_low_lr"], robust["near_high_lr"])],
        "Decades near best": [("—" if n < 2 else f"{d:.2f}" + (" (grid edge)" if edge else ""))
                              for d, n, edge in zip(robust["decades_near_best"], robust["n_rates"],
                                                    robust["at_grid_edge"])]})
    return ("\n**How far the initial rate may be off** — per task and schedule, the decades of initial rate (contiguous "
            "grid rates around the best) over which the mean final metric stays near its own best: within "
            f"{ERROR_FACTOR:g}x of the best relative error, within {ACCURACY_POINTS:g} point of the best accuracy; a "
            "rate where any seed diverged is not near. (grid edge): the near range reaches the grid's end, so the "
            "true range may be wider.\n\n" + to_markdown(shown))


def _table1(runs: pd.DataFrame) -> Table:
    """The paper's Table 1 (Normal vs DLRS, ours beside theirs), plus a column per other schedule run."""
    # seconds per epoch (training and evaluation) and parameters, where the runs recorded them
    runs = runs.assign(epoch_time_s=pd.to_numeric(runs["total_time_s"], errors="coerce")
                       / pd.to_numeric(runs["epochs_completed"], errors="coerce").where(lambda n: n > 0))
    extra = ["epoch_time_s"] + (["n_params"] if "n_params" in runs and runs["n_params"].notna().any() else [])
    agg = aggregate(runs, ["model", "schedule"], ["final_test_acc", *extra])
    others = [s for s in agg["schedule"].drop_duplicates() if s not in ("static", "dlrs")]
    on_cifar = set(runs["task"].dropna()) <= {"cifar10"}  # the paper's numbers are CIFAR-10's: beside those only
    numeric, shown = [], []
    # every paper architecture gets a row (its numbers beside "—" until runs exist)
    for model in sorted(set(agg["model"]) | (set(PAPER_TABLE1) if on_cifar else set()), key=lambda m: _rank("model", m)):
        row: dict[str, Any] = {"architecture": ARCH_NAMES.get(model, model), "model": model}
        text: dict[str, Any] = {"Architecture": row["architecture"]}
        paper = PAPER_TABLE1.get(model, (float("nan"), float("nan")))
        for (sched, name), ref in zip((("static", "normal"), ("dlrs", "dlrs")), paper):
            sub = agg[(agg["model"] == model) & (agg["schedule"] == sched)]
            r = sub.iloc[0] if len(sub) else None
            mean = r["final_test_acc_mean"] if r is not None else float("nan")
            row.update({f"{name}_mean": mean, f"{name}_std": r["final_test_acc_std"] if r is not None else math.nan,
                        f"{name}_n_seeds": r["n_seeds"] if r is not None else 0,
                        f"{name}_status": r["status"] if r is not None else "missing",
                        f"{name}_paper": ref, f"{name}_vs_paper": mean - ref})
            label = "Normal" if name == "normal" else "DLRS"
            text[f"{label} (ours)"] = (mean_std_text(mean, row[f"{name}_std"], ".2f", r["n_diverged"] == r["n_seeds"])
                                       if r is not None else "—")
            if on_cifar:
                text[f"{label} (paper)"] = _num(ref, ".2f")
                text[f"{label} Δ vs paper"] = _num(mean - ref, "+.2f")
            row[f"{name}_epoch_time_s"] = r["epoch_time_s_mean"] if r is not None else math.nan
            text[f"{label}: s / epoch"] = _num(row[f"{name}_epoch_time_s"], ".0f")
        for sched in others:  # e.g. table1_baselines: cosine and plateau
            sub = agg[(agg["model"] == model) & (agg["schedule"] == sched)]
            r = sub.iloc[0] if len(sub) else None
            mean, std = (r["final_test_acc_mean"], r["final_test_acc_std"]) if r is not None else (math.nan, math.nan)
            row.update({f"{sched}_mean": mean, f"{sched}_std": std, f"{sched}_n_seeds": r["n_seeds"] if r is not None else 0,
                        f"{sched}_status": r["status"] if r is not None else "missing"})
            text[f"{_schedule_label(sched)} (ours)"] = (
                mean_std_text(mean, std, ".2f", r["n_diverged"] == r["n_seeds"]) if r is not None else "—")
        row.update(gain=row["dlrs_mean"] - row["normal_mean"], paper_gain=paper[1] - paper[0])
        if "n_params" in extra:
            counts = agg.loc[agg["model"] == model, "n_params_mean"].dropna()
            row["n_params"] = counts.iloc[0] if len(counts) else math.nan
            text["Parameters"] = f"{row['n_params']:,.0f}" if math.isfinite(row["n_params"]) else "—"
        text.update({"DLRS − Normal (ours)": _num(row["gain"], "+.2f"),
                     **({"DLRS − Normal (paper)": _num(row["paper_gain"], "+.2f")} if on_cifar else {}),
                     "Seeds": f"{row['normal_n_seeds']} / {row['dlrs_n_seeds']}",
                     "Status (Normal / DLRS)": f"{row['normal_status']} / {row['dlrs_status']}"})
        numeric.append(row)
        shown.append(text)
    task = ", ".join(sorted(set(runs["task"].dropna()))) or "CIFAR-10"
    caption = (f"{task}: final test accuracy (%) and seconds per epoch (training and evaluation), Normal (static "
               "rate) vs DLRS" + (", beside the paper's Table 1" if on_cifar else " (the paper's Table 1 is CIFAR-10: "
                                  "not comparable)")) + (
        f", and {', '.join(_schedule_label(s) for s in others)}" if others else "")
    return pd.DataFrame(numeric), pd.DataFrame(shown), caption


# the tables a layout's ``table`` names (experiments/report_layouts.py)
TABLES: dict[str, Callable[[pd.DataFrame, Layout], Table]] = {
    "schedules": _schedules_table, "architectures": lambda runs, layout: _table1(runs),
    "rates": lambda runs, layout: _lr_table(runs)}


def _num(value: float, fmt: str) -> str:
    return f"{value:{fmt}}" if value is not None and math.isfinite(value) else "—"


def scale_text(runs: pd.DataFrame) -> str:
    """'Scale: 3000 epochs, seeds 50, 51, 52' (from the runs' configs), so a table states what it rests on;
    a study over several tasks states each task's scale ('helmholtz: 3000 epochs; fashion_mnist: 8 ...')."""
    seeds = _values(runs, "seed")
    tasks = sorted(runs["task"].dropna().unique()) if "task" in runs else []
    parts = ([f"{task}: {_task_scale(runs[runs['task'] == task])}" for task in tasks] if len(tasks) > 1
             else [_task_scale(runs)])
    glue = "; " if len(parts) > 1 else ", "
    return f"Scale: {glue.join(parts)}{glue}seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds)) or '?'}"


def _task_scale(runs: pd.DataFrame) -> str:
    epochs = _values(runs, "epochs")
    data = []  # image runs on part of the data say how much (the PINN's subset is collocation points)
    images = not runs.empty and bool(runs.apply(higher_is_better, axis=1).any())
    for column, what in (("subset", "training images"), ("test_subset", "test images")):
        sizes = _values(runs, column) if images else []
        if sizes:
            data.append(f"the first {', '.join(f'{n:,}'.replace(',', ' ') for n in sizes)} {what}")
    return ", ".join([f"{', '.join(map(str, epochs)) or '?'} epochs", *data])


def _values(runs: pd.DataFrame, column: str) -> list[int]:
    """The distinct integers of a column (none if the runs lack it)."""
    return sorted({int(v) for v in pd.to_numeric(runs.get(column, pd.Series(dtype=float)), errors="coerce").dropna()})


# the per-run table: what identifies a run (in this order, which is also its sort order), then its numbers
RUN_KEYS = ["task", "model", "frequency", "batch_size", "lr", "shuffle", "subset", "test_subset", "schedule",
            "optimizer", "seed", "run_name", "status", "metric", "epochs", "epochs_completed"]
RUN_LOCAL = ("run_dir", "higher_is_better")  # machine paths and bookkeeping: not for a shared table


def per_run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run (every seed, any status) with the numbers the aggregated table averages, so a
    per-seed value can be looked up, not only mean ± std; columns empty for every run are left out."""
    keys = [c for c in RUN_KEYS if c in runs.columns]
    values = [c for c in runs.columns if c not in keys and c not in RUN_LOCAL]
    table = runs[keys + values].dropna(axis="columns", how="all")
    sort_by = [c for c in RUN_KEYS[: RUN_KEYS.index("seed") + 1] if c in table.columns]
    rows = sorted(table.to_dict("records"), key=lambda row: tuple(_rank(c, row[c]) for c in sort_by))
    return pd.DataFrame(rows, columns=table.columns)


_PAIRED_TITLES = {("ratio",): "Ratio of final error [95 % CI]", ("difference",): "Δ final accuracy [95 % CI]",
                  ("difference", "ratio"): "Error ratio (x) or Δ accuracy (pts) [95 % CI]"}


def _pooled_or(column: str, paired: pd.DataFrame) -> pd.Series:
    """A cell column as text; 'all' on the rows pooled over it."""
    text = paired[column].map(lambda v: cell_text(column, v))
    return text.where(paired["pooled_over"] != column, "all")


def _p_text(p: float) -> str:
    return "—" if pd.isna(p) else f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _cell_title(column: str) -> str:
    return {"shuffle": "Batches", "lr": "Initial lr"}.get(column, column.replace("_", " ").capitalize())


def _statistics_columns(table: pd.DataFrame, estimate_title: str, verdict_title: str) -> dict[str, Any]:
    """The columns every paired table ends with: the estimate with its interval, the p-values, the verdict."""
    return {estimate_title: [paired_text(r) for _, r in table.iterrows()],
            "p": table["p_value"].map(_p_text), "p, Holm": table["p_holm"].map(_p_text),
            "Sign test p": table["p_sign"].map(_p_text), verdict_title: table["verdict"]}


def _verdict_text(table: pd.DataFrame, whose: str, family: str) -> str:
    """What p and the verdicts of a paired table mean, and its second family, the pooled rows."""
    pooled = sorted(set(table["pooled_over"]) - {""})
    return (f"p: the t-test dual to the interval; verdict: better/worse{whose} only where p, Holm-adjusted within "
            f"the family of this table's {family}, is below 0.05 (fewer than {MIN_PAIRS} pairs: no verdict)."
            + (f" Rows marked 'all' pool the pairs of every {pooled[0].replace('_', ' ')}: a second family "
               f"({int((table['pooled_over'] != '').sum())}), with a sign test's p beside the t-test's." if pooled else ""))


def contrast_markdown(experiment: str, contrast: str, table: pd.DataFrame, runs: pd.DataFrame) -> str:
    """The contrast table as text: per cell and method, what the changed value of ``contrast`` does
    (changed / baseline, or changed − baseline), Holm-adjusted p and verdict; the pooled rows last."""
    cells = [c for c in table.columns if c not in CONTRAST_COLUMNS]
    baseline, changed = (cell_text(contrast, table[side].iloc[0]) for side in ("baseline", "changed"))
    ratio = set(table["statistic"]) == {"ratio"}
    shown = pd.DataFrame({**{_cell_title(c): _pooled_or(c, table) for c in cells},
                          "Method": table["method"].map(_schedule_label),
                          "Pairs": table["n_pairs"], f"{changed.capitalize()} ends better": table["changed_wins"],
                          **_statistics_columns(table, f"Ratio {changed} / {baseline} [95 % CI]" if ratio else
                                                f"Δ {changed} − {baseline} [95 % CI]", f"Verdict for {changed} (Holm)")})
    how = (f"ratio = the final relative error {changed} / {baseline} per seed, geometric mean, 95 % t-interval on "
           "the log ratios (> 1: the change costs the method)" if ratio else
           f"Δ = the final test accuracy {changed} − {baseline} per seed (points), mean, 95 % t-interval (< 0: "
           "the change costs the method)")
    return (f"**{experiment}: {baseline} → {changed}, each method against itself, paired by seed** — the "
            f"same seed gives both runs the same initial weights and data; {how}. "
            + _verdict_text(table, f" for {changed}", f"per-cell rows ({int((table['pooled_over'] == '').sum())})")
            + f" {scale_text(runs)}. Recompute: `experiments.report.paired.contrasts` on `{experiment}_runs.csv`.\n\n"
            + to_markdown(shown))


def paired_markdown(experiment: str, paired: pd.DataFrame, runs: pd.DataFrame) -> str:
    """The paired comparisons as text: per cell and method, 'DLRS vs X: ratio [interval], wins/n,
    Holm-adjusted p, verdict'; the pooled rows last."""
    cells = [c for c in paired.columns if c not in PAIRED_COLUMNS]
    shown = pd.DataFrame({**{_cell_title(c): _pooled_or(c, paired) for c in cells},
                          "Reference": paired["reference"].map(_schedule_label),
                          "vs": paired["method"].map(_schedule_label),
                          "Pairs": paired["n_pairs"], "Reference wins": paired["reference_wins"],
                          **_statistics_columns(paired, _PAIRED_TITLES.get(tuple(sorted(set(paired["statistic"]))),
                                                                           "Paired estimate [95 % CI]"), "Verdict (Holm)")})
    left_out = int(paired["n_left_out"].sum())
    how = "; ".join(text for statistic, text in (
        ("ratio", "ratio = reference / method of the final relative error per seed, geometric mean, 95 % "
                  "t-interval on the log ratios (< 1: the reference ends lower)"),
        ("difference", "Δ = reference − method of the final test accuracy per seed (points), mean, 95 % "
                       "t-interval (> 0: the reference ends higher)")) if statistic in set(paired["statistic"]))
    per_task = " of each task" if "task" in paired and paired["task"].nunique() > 1 else ""
    return (f"**{experiment}, paired by seed** — {how}. "
            + _verdict_text(paired, "", f"per-cell comparisons{per_task} ({int((paired['pooled_over'] == '').sum())} in all)")
            + f" {scale_text(runs)}." + (f" {left_out} pair(s) left out: a run without a finite final "
                                         f"value (diverged)." if left_out else "")
            + f" Recompute: `experiments.report.paired.comparisons` on `{experiment}_runs.csv`.\n\n"
            + to_markdown(shown))


def write_table(experiment: str, layout: str, runs: pd.DataFrame, out_dir: Path,
                paired: Optional[pd.DataFrame] = None) -> list[Path]:
    """tables/<experiment>.csv (numbers), tables/<experiment>.md (mean ± std text),
    tables/<experiment>_runs.csv (one row per run) and, where the layout pairs methods with a
    reference, tables/<experiment>_paired.{csv,md}, and with its ``contrast``,
    tables/<experiment>_<contrast>.{csv,md}; in the report layout named ``layout``."""
    from .paired import comparisons, contrasts, labelled

    paired = comparisons(layout, runs) if paired is None else paired
    numeric, shown, caption = build_table(layout, labelled(runs))
    tables = Path(out_dir) / "tables"
    csv_path, md_path, runs_path = (tables / f"{experiment}{suffix}" for suffix in (".csv", ".md", "_runs.csv"))
    write_text_atomic(csv_path, numeric.to_csv(index=False, float_format="%.10g"))  # no 0.37999999999999545
    note = "Mean ± std over seeds (— : a single seed or no value); diverged seeds are counted, not averaged."
    write_text_atomic(md_path, f"**{experiment}** — {caption}.\n{scale_text(runs)}. {note} "
                               f"Every run's own numbers: `{runs_path.name}`.\n\n{to_markdown(shown)}")
    write_text_atomic(runs_path, per_run_table(runs).to_csv(index=False, float_format="%.10g"))
    written = [csv_path, md_path, runs_path]
    if LAYOUTS[layout].table == "rates" and len(numeric):  # the rates table's own question
        robust = lr_robustness(numeric)
        robust_csv = tables / f"{experiment}_robustness.csv"
        write_text_atomic(robust_csv, robust.to_csv(index=False, float_format="%.10g"))
        write_text_atomic(md_path, md_path.read_text() + lr_robustness_markdown(robust))
        written.append(robust_csv)
    if len(paired):
        paired_csv, paired_md = tables / f"{experiment}_paired.csv", tables / f"{experiment}_paired.md"
        write_text_atomic(paired_csv, paired.to_csv(index=False, float_format="%.10g"))
        write_text_atomic(paired_md, paired_markdown(experiment, paired, runs))
        written += [paired_csv, paired_md]
    contrast = contrasts(layout, runs)
    if len(contrast):
        name = LAYOUTS[layout].contrast
        contrast_csv, contrast_md = tables / f"{experiment}_{name}.csv", tables / f"{experiment}_{name}.md"
        write_text_atomic(contrast_csv, contrast.to_csv(index=False, float_format="%.10g"))
        write_text_atomic(contrast_md, contrast_markdown(experiment, name, contrast, runs))
        written += [contrast_csv, contrast_md]
    return written


