"""The paper's figures and tables, redrawn from run directories (``results/runs/<experiment>/<run>/``).

``load_runs`` / ``load_curves`` read whatever exists: finished, running, interrupted, failed and
diverged runs are all kept with their status; a damaged file is skipped with a warning.
``make_report`` aggregates over seeds (mean ± std) and writes, under ``out_dir``,
``figures/<experiment>[_lr].{png,pdf}`` and ``tables/<experiment>.{csv,md}``.
No torch import here: reports must be cheap to redraw while runs are still going.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from .io import write_text_atomic  # noqa: E402

EXPERIMENTS = ("fig2", "fig5", "fig8", "table1", "fig9")
# experiment name (before any "_suffix", e.g. fig2_quick) -> layout of its figure and table
KINDS = {"fig2": "pinn", "fig5": "batch", "fig8": "batch", "fig9": "batch", "table1": "arch"}
PAPER_TABLE1 = {"simple_dla": (90.88, 91.30), "vgg19": (89.28, 91.98), "resnet18": (91.63, 92.12),
                "googlenet": (89.78, 92.90), "mobilenetv2": (90.81, 90.88)}  # SPEC Table 1: (Normal, DLRS)
ARCH_NAMES = {"simple_dla": "SimpleDLA", "vgg19": "VGG-19", "resnet18": "ResNet-18", "googlenet": "GoogLeNet",
              "mobilenetv2": "MobileNetV2", "mnist_cnn": "MNIST CNN", "pinn_mlp": "PINN MLP"}
SCHEDULES = {"static": ("Static", "tab:blue"), "adacomp": ("Adacomp", "tab:green"), "dlrs": ("DLRS", "tab:red")}
STATUS_ORDER = ("completed", "diverged", "running", "interrupted", "failed", "incomplete")
FINISHED = ("completed", "diverged")
METRIC_COLUMNS = ("train_loss", "test_loss", "rel_error", "test_acc")
RUN_COLUMNS = ["run_name", "status", "task", "model", "schedule", "optimizer", "lr", "batch_size", "frequency",
               "seed", "epochs", "epochs_completed", "metric"]
CURVE_KEYS = ["run_name", "status", "task", "model", "schedule", "optimizer", "batch_size", "frequency", "seed",
              "run_dir"]  # the run's initial rate is not attached: the curve's own "lr" column is the rate used


# ---- reading run directories -------------------------------------------------------------------
def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _read_mapping(path: Path, parse: Any, errors: tuple[type[Exception], ...]) -> Optional[dict[str, Any]]:
    """A JSON/YAML file holding a mapping, or None (with a warning if it exists but is unusable)."""
    if not path.exists():
        return None
    try:
        data = parse(path.read_text())
    except (OSError, UnicodeDecodeError, *errors) as e:
        _warn(f"{path} is unreadable ({type(e).__name__}); ignoring it")
        return None
    if not isinstance(data, dict):
        _warn(f"{path} does not hold a mapping; ignoring it")
        return None
    return data


def _read_summary(run_dir: Path) -> Optional[dict[str, Any]]:
    return _read_mapping(run_dir / "summary.json", json.loads, (json.JSONDecodeError,))


def _read_config(run_dir: Path) -> Optional[dict[str, Any]]:
    return _read_mapping(run_dir / "config.yaml", yaml.safe_load, (yaml.YAMLError,))


def read_metrics(run_dir: Path) -> Optional[pd.DataFrame]:
    """The run's metrics.csv with numeric columns, or None if absent or unreadable (with a warning)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return None
    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        _warn(f"{path} is unreadable ({type(e).__name__}); ignoring it")
        return None
    if "epoch" not in df.columns:
        _warn(f"{path} has no 'epoch' column; ignoring it")
        return None
    for col in df.columns:
        if col != "dlrs_regime":
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def _keys_from_config(cfg: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    def get(section: str, key: str) -> Any:
        part = cfg.get(section)
        return part.get(key) if isinstance(part, dict) else None

    return {"run_name": cfg.get("run_name") or run_dir.name, "task": get("task", "name"),
            "model": get("model", "name"), "schedule": get("schedule", "name"),
            "optimizer": get("optimizer", "name"), "lr": get("optimizer", "lr"),
            "batch_size": get("task", "batch_size"), "frequency": get("task", "frequency"),
            "seed": get("trainer", "seed"), "epochs": get("trainer", "epochs")}


def _metric_of(metrics: Optional[pd.DataFrame]) -> Optional[str]:
    cols = metrics.columns if metrics is not None else ()
    return "rel_error" if "rel_error" in cols else "test_acc" if "test_acc" in cols else None


def _read_run(run_dir: Path) -> Optional[dict[str, Any]]:
    """One flattened row for a run directory, or None (with a warning) if nothing usable is there."""
    summary, metrics = _read_summary(run_dir), read_metrics(run_dir)
    if summary is None:
        cfg = _read_config(run_dir)
        if metrics is None or cfg is None:
            _warn(f"{run_dir}: no readable summary.json" + (" or metrics.csv" if cfg else " or config.yaml")
                  + "; skipped")
            return None
        row = _keys_from_config(cfg, run_dir)
        row.update(status="incomplete", metric=_metric_of(metrics), higher_is_better=None)
        final, best = {}, {}
    else:
        row = {k: summary.get(k) for k in RUN_COLUMNS if k != "epochs_completed"}
        row["run_name"] = row["run_name"] or run_dir.name
        row["higher_is_better"] = summary.get("higher_is_better")
        row["metric"] = row["metric"] or _metric_of(metrics)
        final, best = (v if isinstance(v, dict) else {} for v in (summary.get("final"), summary.get("best")))
        row["total_time_s"] = summary.get("total_time_s")
    row["diverged_at_epoch"] = summary.get("diverged_at_epoch") if summary else None
    row["epochs_completed"] = (summary or {}).get("epochs_completed") or 0
    metric = row["metric"]
    # An unfinished run's summary was written when it started: its metrics.csv is newer.
    if metrics is not None and len(metrics) and (row["status"] not in FINISHED or not final):
        last = metrics.iloc[-1]
        final = {c: last[c] for c in METRIC_COLUMNS if c in metrics.columns}
        row["epochs_completed"] = max(int(row["epochs_completed"]), len(metrics))
        row["total_time_s"] = last.get("wall_time_s", row.get("total_time_s"))
        if metric in metrics.columns and metrics[metric].notna().any():
            higher = row["higher_is_better"] if row["higher_is_better"] is not None else metric == "test_acc"
            best = {metric: metrics[metric].max() if higher else metrics[metric].min()}
    for name in METRIC_COLUMNS:
        if name in final:
            row[f"final_{name}"] = _float(final[name])
    if metric and metric in best:
        row[f"best_{metric}"] = _float(best[metric])
    row["run_dir"] = str(run_dir)
    return row


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def load_runs(runs_dir: Path, experiment: str) -> pd.DataFrame:
    """One row per run directory under ``runs_dir/experiment`` (any status); empty if there are none."""
    exp_dir = Path(runs_dir) / experiment
    rows = []
    for run_dir in sorted(exp_dir.iterdir() if exp_dir.is_dir() else []):
        if not run_dir.is_dir():
            continue
        try:
            row = _read_run(run_dir)
        except (TypeError, ValueError, KeyError, AttributeError) as e:  # well-formed files, odd contents
            _warn(f"{run_dir}: unexpected contents ({type(e).__name__}: {e}); skipped")
            row = None
        if row is not None:
            rows.append(row)
    df = pd.DataFrame(rows)
    for col in [*RUN_COLUMNS, "total_time_s", "run_dir"]:
        if col not in df.columns:
            df[col] = pd.Series(dtype=object)
    return df


def load_curves(runs_dir: Path, experiment: str, runs: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """All metrics.csv rows of the experiment (long format), each with its run's keys (CURVE_KEYS)."""
    runs = load_runs(runs_dir, experiment) if runs is None else runs
    parts = []
    for _, run in runs.iterrows():
        metrics = read_metrics(Path(run["run_dir"]))
        if metrics is not None and len(metrics):
            parts.append(metrics.assign(**{k: run[k] for k in CURVE_KEYS}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["epoch", *CURVE_KEYS])


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


def build_table(kind: str, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(numeric table for CSV, formatted table for Markdown, caption) for one experiment layout."""
    if kind == "pinn":
        agg = aggregate(runs, ["frequency", "schedule"], ["final_rel_error", "final_train_loss", "total_time_s"])
        shown = pd.DataFrame({"Frequency (Hz)": agg["frequency"].map(_g),
                              "Schedule": agg["schedule"].map(_schedule_label), "Status": agg["status"],
                              "Seeds": agg["n_seeds"], "Final rel. error": _pm(agg, "final_rel_error", ".2e"),
                              "Final loss": _pm(agg, "final_train_loss", ".2e"),
                              "Time (s)": _pm(agg, "total_time_s", ".1f")})
        return agg, shown, "Helmholtz PINN: final relative L2 error, final training loss and run time"
    if kind == "batch":
        agg = aggregate(runs, ["batch_size", "schedule"], ["final_test_acc", "best_test_acc", "final_train_loss"])
        shown = pd.DataFrame({"Batch size": agg["batch_size"].map(_g),
                              "Schedule": agg["schedule"].map(_schedule_label),
                              "Final test acc (%)": _pm(agg, "final_test_acc", ".2f"),
                              "Best test acc (%)": _pm(agg, "best_test_acc", ".2f"),
                              "Final train loss": _pm(agg, "final_train_loss", ".3g"),
                              "Seeds": agg["n_seeds"], "Status": agg["status"]})
        return agg, shown, "Test accuracy and training loss per batch size and schedule"
    return _table1(runs)


def _table1(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    agg = aggregate(runs[runs["schedule"].isin(["static", "dlrs"])], ["model", "schedule"], ["final_test_acc"])
    numeric, shown = [], []
    # every paper architecture gets a row (its numbers beside "—" until runs exist)
    for model in sorted(set(agg["model"]) | set(PAPER_TABLE1), key=lambda m: _rank("model", m)):
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
            text[f"{label} (paper)"] = _num(ref, ".2f")
            text[f"{label} Δ vs paper"] = _num(mean - ref, "+.2f")
        row.update(gain=row["dlrs_mean"] - row["normal_mean"], paper_gain=paper[1] - paper[0])
        text.update({"DLRS − Normal (ours)": _num(row["gain"], "+.2f"),
                     "DLRS − Normal (paper)": _num(row["paper_gain"], "+.2f"),
                     "Seeds": f"{row['normal_n_seeds']} / {row['dlrs_n_seeds']}",
                     "Status (Normal / DLRS)": f"{row['normal_status']} / {row['dlrs_status']}"})
        numeric.append(row)
        shown.append(text)
    caption = "CIFAR-10 final test accuracy (%), Normal (static rate) vs DLRS, beside the paper's Table 1"
    return pd.DataFrame(numeric), pd.DataFrame(shown), caption


def _num(value: float, fmt: str) -> str:
    return f"{value:{fmt}}" if value is not None and math.isfinite(value) else "—"


def write_table(experiment: str, kind: str, runs: pd.DataFrame, out_dir: Path) -> list[Path]:
    """tables/<experiment>.csv (numbers) and tables/<experiment>.md (mean ± std text)."""
    numeric, shown, caption = build_table(kind, runs)
    csv_path, md_path = Path(out_dir) / "tables" / f"{experiment}.csv", Path(out_dir) / "tables" / f"{experiment}.md"
    write_text_atomic(csv_path, numeric.to_csv(index=False, float_format="%.10g"))  # no 0.37999999999999545
    note = "Mean ± std over seeds (— : a single seed or no value); diverged seeds are counted, not averaged."
    write_text_atomic(md_path, f"**{experiment}** — {caption}.\n{note}\n\n{to_markdown(shown)}")
    return [csv_path, md_path]


# ---- figures -----------------------------------------------------------------------------------
def _column_title(column: str, value: Any) -> str:
    if column == "frequency":
        return f"f = {_g(value)} Hz"
    if column == "batch_size":
        return f"batch size {_g(value)}"
    return ARCH_NAMES.get(value, str(value))


def _schedule_curves(ax: plt.Axes, curves: pd.DataFrame, value: str, log: bool) -> None:
    """One line per schedule: the mean over seeds per epoch, shaded ± std when there are several.

    Diverged seeds are left out of the mean (as in the tables) and drawn one by one, dotted.
    """
    if value not in curves.columns:
        return
    for sched in sorted(set(curves["schedule"]), key=lambda s: _rank("schedule", s)):
        sub = curves[curves["schedule"] == sched]
        status = sub.groupby("run_dir")["status"].first()
        diverged = sub["run_dir"].isin(status.index[status == "diverged"])
        name, color = SCHEDULES.get(sched, (str(sched), None))
        n_runs, n_div = len(status), int((status == "diverged").sum())
        notes = ([f"{n_runs} seeds"] if n_runs > 1 else []) + (
            [f"{n_div} diverged, dotted" if n_div < n_runs else "diverged"] if n_div else [])
        label: Optional[str] = name + (f" ({', '.join(notes)})" if notes else "")
        stats = sub[~diverged].groupby("epoch")[value].agg(["mean", "std", "count"]).dropna(subset=["mean"])
        if not stats.empty:
            ax.plot(stats.index, stats["mean"], color=color, lw=1.3, label=label)
            label = None
            if stats["count"].max() > 1:
                ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                                color=color, alpha=0.2, lw=0)
        for _, run in sub[diverged].groupby("run_dir"):
            ax.plot(run["epoch"], run[value], ":", color=color, lw=1.0, label=label)
            label = None
    values = pd.to_numeric(curves[value], errors="coerce")
    positive = values[values > 0]
    if log and len(positive) and positive.max() >= 10 * positive.min():  # within one decade linear reads better
        ax.set_yscale("log", nonpositive="clip")
        ax.yaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks are slow to draw and crowd the axis
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _field_panel(ax: plt.Axes, runs: pd.DataFrame) -> None:
    """Exact field once, then each run's prediction labelled with its relative error."""
    exact_drawn = False
    ordered = sorted((run for _, run in runs.iterrows()),
                     key=lambda r: (_rank("schedule", r["schedule"]), _rank("seed", r["seed"])))
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
    if exact_drawn:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no field.csv yet", ha="center", va="center", transform=ax.transAxes)


def _save(fig: plt.Figure, out_dir: Path, stem: str) -> list[Path]:
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png", folder / f"{stem}.pdf"]
    # fixed margins in inches: tight_layout would draw the whole figure once more
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=1.0 / width, right=1 - 0.15 / width, bottom=0.5 / height, top=1 - 0.6 / height,
                        wspace=0.3, hspace=0.35)
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def plot_experiment(experiment: str, kind: str, runs: pd.DataFrame, curves: pd.DataFrame,
                    out_dir: Path) -> list[Path]:
    """The paper's figure (<experiment>.png/.pdf) and the learning-rate figure (<experiment>_lr.png/.pdf)."""
    column = {"pinn": "frequency", "batch": "batch_size", "arch": "model"}[kind]
    values = sorted(set(runs[column].dropna()), key=lambda v: _rank(column, v))
    n = max(len(values), 1)
    bottom = ("test_acc", "test accuracy (%)") if kind != "pinn" else ("field", "p(x)")
    fig, axes = plt.subplots(2, n, figsize=(3.4 * n + 0.9, 6.2), squeeze=False)
    lr_fig, lr_axes = plt.subplots(1, n, figsize=(3.4 * n + 0.9, 3.2), squeeze=False)
    for i, value in enumerate(values):
        sub_curves = curves[curves[column] == value] if len(curves) else curves
        top, low, lr_ax = axes[0][i], axes[1][i], lr_axes[0][i]
        _schedule_curves(top, sub_curves, "train_loss", log=True)
        top.set_title(_column_title(column, value))
        top.set_xlabel("epoch")
        if top.lines:
            top.legend(fontsize=7)
        if kind == "pinn":
            _field_panel(low, runs[runs[column] == value])
        else:
            _schedule_curves(low, sub_curves, "test_acc", log=False)
            low.set_xlabel("epoch")
        _schedule_curves(lr_ax, sub_curves, "lr", log=True)
        lr_ax.set(title=_column_title(column, value), xlabel="epoch")
        if lr_ax.lines:
            lr_ax.legend(fontsize=7)
    axes[0][0].set_ylabel("train loss")
    axes[1][0].set_ylabel(bottom[1])
    lr_axes[0][0].set_ylabel("learning rate")
    fig.suptitle(f"{experiment}", fontsize=10)
    lr_fig.suptitle(f"{experiment}: learning rate used in each epoch", fontsize=10)
    return _save(fig, out_dir, experiment) + _save(lr_fig, out_dir, f"{experiment}_lr")


# ---- entry point -------------------------------------------------------------------------------
def experiment_kind(experiment: str, runs: Optional[pd.DataFrame] = None) -> str:
    """'pinn', 'batch' or 'arch': from the name (fig2_quick -> fig2), else guessed from the runs."""
    base = experiment.split("_")[0]
    if base in KINDS:
        return KINDS[base]
    if runs is not None and (runs["task"] == "helmholtz").any():
        return "pinn"
    if runs is not None and runs["model"].nunique() > 1:
        return "arch"
    return "batch"


def make_report(experiment: str, runs_dir: Path, out_dir: Path) -> list[Path]:
    """Tables and figures of one experiment from whatever runs exist; returns the written paths."""
    runs = load_runs(Path(runs_dir), experiment)
    if runs.empty:
        print(f"{experiment}: no runs under {Path(runs_dir) / experiment}; nothing written "
              f"(start them with `python -m experiments.run -m +experiment={experiment}`)")
        return []
    kind = experiment_kind(experiment, runs)
    curves = load_curves(Path(runs_dir), experiment, runs)
    return write_table(experiment, kind, runs, Path(out_dir)) + plot_experiment(experiment, kind, runs, curves,
                                                                                 Path(out_dir))
