"""Figures: loss, learning rate and metric curves per schedule (mean over seeds; shaded: ± std, or the range on log axes)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..report_layouts import LAYOUTS  # noqa: E402
from .names import ARCH_NAMES, NOTED_BESIDE, SCHEDULES  # noqa: E402
from .runs import _float, _warn, higher_is_better  # noqa: E402
from .tables import _g, _rank, batch_order_text, scale_text  # noqa: E402

# ---- figures -----------------------------------------------------------------------------------
def _column_title(column: str, value: Any) -> str:
    if column == "frequency":
        return f"f = {_g(value)} Hz"
    if column == "batch_size":
        return f"batch size {_g(value)}"
    if column in ("initial_lr", "lr"):
        return f"initial lr {_g(value)}"
    if column == "shuffle":
        return batch_order_text(value)
    if column in ("model", "task"):
        return ARCH_NAMES.get(value, str(value))
    return f"{column.replace('_', ' ')} {_g(value)}"


def _schedule_curves(ax: plt.Axes, curves: pd.DataFrame, value: str, log: bool) -> None:
    """One line per schedule: the mean over seeds per epoch, shaded when there are several seeds:
    ± std on a linear axis, the range over the seeds (min to max) on a log axis, where mean - std
    would fall below zero.

    Diverged seeds are left out of the mean (as in the tables) and drawn one by one, dotted.
    """
    if value not in curves.columns:
        return
    values = pd.to_numeric(curves[value], errors="coerce")
    positive = values[values > 0]
    log = bool(log and len(positive) and positive.max() >= 10 * positive.min())  # within a decade linear reads better
    for sched in sorted(set(curves["schedule"]), key=lambda s: _rank("schedule", s)):
        sub = curves[curves["schedule"] == sched]
        status = sub.groupby("run_dir")["status"].first()
        diverged = sub["run_dir"].isin(status.index[status == "diverged"])
        name, color = SCHEDULES.get(sched, (str(sched), None))
        n_runs, n_div = len(status), int((status == "diverged").sum())
        notes = ([f"{n_runs} seeds"] if n_runs > 1 else []) + (
            [f"{n_div} diverged, dotted" if n_div < n_runs else "diverged"] if n_div else [])
        label: Optional[str] = name + (f" ({', '.join(notes)})" if notes else "")
        stats = sub[~diverged].groupby("epoch")[value].agg(["mean", "std", "min", "max", "count"])
        stats = stats.dropna(subset=["mean"])
        if not stats.empty:
            ax.plot(stats.index, stats["mean"], color=color, lw=1.3, label=label)
            label = None
            if stats["count"].max() > 1:
                low, high = (stats["min"], stats["max"]) if log else (stats["mean"] - stats["std"],
                                                                        stats["mean"] + stats["std"])
                ax.fill_between(stats.index, low, high, color=color, alpha=0.2, lw=0)
        for _, run in sub[diverged].groupby("run_dir"):
            ax.plot(run["epoch"], run[value], ":", color=color, lw=1.0, label=label)
            label = None
    if log:
        ax.set_yscale("log", nonpositive="clip")
        ax.yaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks are slow to draw and crowd the axis
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax.grid(alpha=0.3)


def _field_panel(ax: plt.Axes, runs: pd.DataFrame) -> None:
    """Exact field once, then each run's prediction labelled with its relative error."""
    exact_drawn = False
    ordered = sorted((run for _, run in runs.iterrows()),
                     key=lambda r: (_rank("schedule", r["schedule"]), _rank("seed", r["seed"])))
    ordered = [r for i, r in enumerate(ordered) if i == 0 or r["schedule"] != ordered[i - 1]["schedule"]]  # first seed
    for run in ordered:
        path = Path(run["run_dir"]) / "field.csv"
        try:
            field = pd.read_csv(path) if path.exists() else None
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            _warn(f"{path} is unreadable ({type(e).__name__}); ignoring it")
            field = None
        if field is None or not {"x", "exact", "predicted"} <= set(field.columns):
            continue
        if not exact_drawn:
            ax.plot(field["x"], field["exact"], "k-", lw=2, label="exact")
            exact_drawn = True
        err = run.get("final_rel_error", float("nan"))
        if not math.isfinite(_float(err)):
            diff, ref = field["predicted"] - field["exact"], field["exact"]
            err = float(np.linalg.norm(diff) / np.linalg.norm(ref)) if np.linalg.norm(ref) > 0 else float("nan")
        name, color = SCHEDULES.get(run["schedule"], (str(run["schedule"]), None))
        state = "diverged" if run["status"] == "diverged" or not math.isfinite(err) else f"rel. err {err:.2e}"
        ax.plot(field["x"], field["predicted"], "--", color=color, lw=1.2, label=f"{name} s{_g(run['seed'])}: {state}")
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    if exact_drawn:  # below the panel: inside, it would hide the field it labels
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    else:
        ax.text(0.5, 0.5, "no field.csv yet", ha="center", va="center", transform=ax.transAxes)


def _suptitle(fig: plt.Figure, text: str) -> float:
    """The figure's title, wrapped to its width (a two-column figure is narrower than the scale
    text); returns the inches above the panels it needs, their titles included."""
    wrapped = textwrap.fill(text, width=max(40, int(fig.get_size_inches()[0] * 13)))  # ~13 chars/in at 10 pt
    fig.suptitle(wrapped, fontsize=10)
    return 0.6 + 0.18 * wrapped.count("\n")


def _shared_legend(fig: plt.Figure, axes: list[plt.Axes], title_inches: float) -> float:
    """One legend for panels that share their schedules, under the title, instead of one per panel
    over the curves; each label once (a panel with another seed count adds its own). Returns the
    title's height in inches with the legend's rows added."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if not entries:
        return title_inches
    width, height = fig.get_size_inches()
    columns = max(1, min(len(entries), 3, int(width // 2.6)))  # ~2.6 in per label
    legend_inches = 0.18 * -(-len(entries) // columns) + 0.1
    fig.set_size_inches(width, height + legend_inches)  # the panels keep their height
    fig.legend(list(entries.values()), list(entries), loc="upper center", ncol=columns, fontsize=7,
               frameon=False, bbox_to_anchor=(0.5, 1 - (title_inches - 0.3) / (height + legend_inches)))
    return title_inches + legend_inches


def _save(fig: plt.Figure, out_dir: Path, stem: str, title_inches: float = 0.6,
          bottom_inches: float = 0.5) -> list[Path]:
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    # fixed margins in inches: tight_layout would draw the whole figure once more
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=1.0 / width, right=1 - 0.15 / width, bottom=bottom_inches / height,
                        top=1 - title_inches / height,
                        wspace=0.3, hspace=0.35)
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def plot_experiment(experiment: str, layout: str, runs: pd.DataFrame, curves: pd.DataFrame,
                    out_dir: Path) -> list[Path]:
    """The experiment's figure in the report layout named ``layout`` (experiments/report_layouts.py):
    <experiment>.png/.pdf (loss, learning rate, and the metric, or for runs that measure an error the
    PINN's field; a column per panel) and the learning-rate figure (<experiment>_lr.png/.pdf); or
    the final metric against the initial rate."""
    declared = LAYOUTS[layout]
    if declared.figure == "rates":
        return plot_lr_sensitivity(experiment, runs, out_dir)
    panels = list(declared.panels)
    # a run's panel: its values of the panel columns (a curve row's: its run's, by run_dir; the
    # curves' own "lr" is the rate each epoch used, not the run's initial rate)
    keys = [tuple(None if pd.isna(v) else v for v in row) for row in runs[panels].itertuples(index=False)]
    values = sorted({key for key in keys if any(v is not None for v in key)},
                    key=lambda key: tuple(_rank(c, v) for c, v in zip(panels, key)))
    index = {key: i for i, key in enumerate(values)}
    run_panel = pd.Series([index.get(key) for key in keys], index=runs.index, dtype=object)
    curve_panel = curves["run_dir"].map(dict(zip(runs["run_dir"], run_panel))) if len(curves) else None
    n = max(len(values), 1)
    field = not any(higher_is_better(run) for _, run in runs.iterrows())  # an error: the PINN's, with its field
    fig, axes = plt.subplots(3, n, figsize=(3.4 * n + 0.9, 9.0), squeeze=False)
    lr_fig, lr_axes = plt.subplots(1, n, figsize=(3.4 * n + 0.9, 3.2), squeeze=False)
    for i, value in enumerate(values):
        sub_curves = curves[curve_panel == i] if len(curves) else curves
        title = ", ".join(_column_title(c, v) for c, v in zip(panels, value))
        top, middle, low, lr_ax = axes[0][i], axes[1][i], axes[2][i], lr_axes[0][i]
        _schedule_curves(top, sub_curves, "train_loss", log=True)
        top.set_title(title)
        for ax in (middle, lr_ax):
            _schedule_curves(ax, sub_curves, "lr", log=True)
            ax.set_xlabel("epoch")
        lr_ax.set_title(title)
        if field:
            _field_panel(low, runs[run_panel == i])
        else:
            _schedule_curves(low, sub_curves, "test_acc", log=False)
            low.set_xlabel("epoch")
    axes[0][0].set_ylabel("train loss")
    axes[1][0].set_ylabel("learning rate")
    axes[2][0].set_ylabel("p(x)" if field else "test accuracy (%)")
    lr_axes[0][0].set_ylabel("learning rate")
    title_inches = _suptitle(fig, f"{experiment}. {scale_text(runs)}")
    lr_title_inches = _suptitle(lr_fig, f"{experiment}: learning rate used in each epoch")
    bottom_inches = 0.5
    if field:  # room for the field panels' legends, drawn below them
        field_legend_inches = 0.15 * max(len(ax.get_legend_handles_labels()[1]) for ax in axes[2]) + 0.1
        width, height = fig.get_size_inches()
        fig.set_size_inches(width, height + field_legend_inches)
        bottom_inches += field_legend_inches
    # last: it places itself by the figure's height
    title_inches = _shared_legend(fig, list(axes[0]), title_inches)
    lr_title_inches = _shared_legend(lr_fig, list(lr_axes[0]), lr_title_inches)
    return (_save(fig, out_dir, experiment, title_inches, bottom_inches)
            + _save(lr_fig, out_dir, f"{experiment}_lr", lr_title_inches))


def plot_lr_sensitivity(experiment: str, runs: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Final metric against the initial rate (log axis), one line per schedule, one panel per task."""
    from .tables import _lr_table

    agg = _lr_table(runs)[0]
    tasks = sorted(set(agg["task"].dropna()))
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(4.2 * max(len(tasks), 1) + 0.9, 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = agg[agg["task"] == task]
        for sched in sorted(set(sub["schedule"]), key=lambda s: _rank("schedule", s)):
            line = sub[sub["schedule"] == sched].sort_values("lr")
            name, color = SCHEDULES.get(sched, (str(sched), None))
            beside, note = NOTED_BESIDE.get(sched, (None, ""))
            if beside in set(sub["schedule"]):  # e.g. DLRS beside DLRS uncapped: say which of the two is capped
                name += f", {note}"
            if len(line) == 1:  # Prodigy: its lr is a multiplier (1.0 by default), not a rate on this axis
                name += f" (lr = {_g(line['lr'].iloc[0])} multiplier)"
            ax.plot(line["lr"], line["final_metric_mean"], marker="o" if len(line) > 1 else "D", color=color,
                    lw=1.2, label=name)
            if len(line) > 1:  # the band: the range over seeds
                ax.fill_between(line["lr"], line["final_metric_min"], line["final_metric_max"], color=color,
                                alpha=0.15, lw=0)
            else:  # one rate (Prodigy at its default multiplier): the range as an error bar
                ax.errorbar(line["lr"], line["final_metric_mean"], color=color, capsize=3, fmt="none",
                            yerr=[line["final_metric_mean"] - line["final_metric_min"],
                                  line["final_metric_max"] - line["final_metric_mean"]])
        ax.set_xscale("log")
        error = not sub["higher_is_better"].iloc[0]
        if error:
            ax.set_yscale("log")
        ax.set(title=task, xlabel="initial learning rate",
               ylabel="final relative error" if error else "final test accuracy (%)")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(f"{experiment}: final metric against the initial rate (line: mean over seeds; band: their range)\n"
                 f"{scale_text(runs)}", fontsize=9)
    return _save(fig, out_dir, experiment, title_inches=0.8)


def plot_comparison(runs: pd.DataFrame, curves: pd.DataFrame, path: Path, title: str) -> Path:
    """Four panels comparing a few runs of one task (``make run``: the constant rate and DLRS):
    training loss, the metric, the learning rate, and for the PINN the fields against the exact one
    (for an image task: the test loss)."""
    metric = next((m for m in ("rel_error", "test_acc") if m in curves.columns), "rel_error")
    pinn = metric == "rel_error"
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 7.2), squeeze=False)
    panels = [(axes[0][0], "train_loss", "train loss", True),
              (axes[0][1], metric, "relative L2 error" if pinn else "test accuracy (%)", pinn),
              (axes[1][0], "lr", "learning rate", True)]
    if not pinn:
        panels.append((axes[1][1], "test_loss", "test loss", True))
    for ax, value, label, log in panels:
        _schedule_curves(ax, curves, value, log=log)
        ax.set(xlabel="epoch", ylabel=label)
    if axes[0][0].lines:
        axes[0][0].legend(fontsize=8)
    if pinn:
        _field_panel(axes[1][1], runs)
        axes[1][1].set_ylabel("p(x)")
    fig.suptitle(title, fontsize=10)
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.85 / width, right=1 - 0.2 / width, bottom=0.55 / height, top=1 - 0.55 / height,
                        wspace=0.25, hspace=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_paired(experiment: str, paired: pd.DataFrame, out_dir: Path) -> list[Path]:
    """<experiment>_paired.png/.pdf: one row per comparison (cell, reference vs method), the paired
    estimate with its 95 % interval; the ratio on a log axis with a line at 1 (the difference: at 0)."""
    from .paired import PAIRED_COLUMNS

    cells = [c for c in paired.columns if c not in PAIRED_COLUMNS]
    # one panel per statistic: errors as ratios, accuracies as differences (lr_sensitivity has both)
    panels = [group for _, group in paired.groupby("statistic", sort=False)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, 0.32 * len(paired) + 1.5 + 0.5 * len(panels)), squeeze=False,
                             gridspec_kw={"height_ratios": [len(p) + 1 for p in panels]})
    for ax, panel in zip(axes[:, 0], panels):
        ratio = panel["statistic"].iloc[0] == "ratio"
        labels = []
        for y, (_, r) in enumerate(panel.iterrows()):
            cell = ", ".join(f"all {c.replace('_', ' ')}s" if r["pooled_over"] == c else _column_title(c, r[c])
                             for c in cells)
            labels.append(f"{cell}: {SCHEDULES.get(r['reference'], (r['reference'],))[0]} vs "
                          f"{SCHEDULES.get(r['method'], (r['method'],))[0]} ({r['reference_wins']}/{r['n_pairs']})")
            color = {"better": "tab:green", "worse": "tab:red"}.get(r["verdict"], "0.4")
            low, high = r["ci_low"], r["ci_high"]
            if pd.notna(low) and pd.notna(high):
                ax.plot([low, high], [y, y], color=color, lw=2)
            ax.plot([r["estimate"]], [y], "o", color=color)
        ax.axvline(1.0 if ratio else 0.0, color="black", lw=0.8)
        if ratio:
            ax.set_xscale("log")
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("final error ratio, reference / method" if ratio else "final accuracy, reference − method (points)")
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"{experiment}: paired by seed, geometric-mean ratio or mean difference, 95 % t-interval "
                 "(reference wins / pairs)\n"
                 "green: the reference is better, red: worse, grey: not separated (Holm-adjusted within the table)", fontsize=9)
    # the labels' column widens the figure beyond 3.4 inches where the labels need it
    label_inches = max(3.4, 0.06 * max(len(t.get_text()) for ax in axes[:, 0] for t in ax.get_yticklabels()))
    width, height = fig.get_size_inches() + (label_inches - 3.4, 0)
    fig.set_size_inches(width, height)
    fig.subplots_adjust(left=label_inches / width, right=1 - 0.3 / width, bottom=0.7 / height, top=1 - 0.6 / height,
                        hspace=0.9 / height * len(panels))
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{experiment}_paired.png", folder / f"{experiment}_paired.pdf"]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
