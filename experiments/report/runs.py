"""Reading run directories (``results/runs/<experiment>/<run>/``) into tables of runs and curves.

Whatever exists is read: finished, running, interrupted, failed and diverged runs are all kept
with their status; a damaged file is skipped with a warning. No torch import.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import yaml

from ..constants import FINISHED
from ..run_dir import best_row
REPORT_DIR = "report"  # <experiment>/report/: the report of an ad-hoc experiment, beside its runs (not a run)
METRIC_COLUMNS = ("train_loss", "test_loss", "rel_error", "test_acc")
RUN_COLUMNS = ["run_name", "status", "task", "model", "schedule", "optimizer", "lr", "batch_size", "frequency",
               "seed", "epochs", "epochs_completed", "metric"]


def higher_is_better(row: Any) -> bool:
    """Whether a larger ``row["metric"]`` is better: as the run's summary says, else for the
    metrics this harness knows (test_acc, an accuracy; rel_error, an error)."""
    stated = row.get("higher_is_better")
    return bool(stated) if stated is not None and not pd.isna(stated) else row.get("metric") == "test_acc"


# the PINN's target (the paper's "< 1 %", the authors' stopping rule was 0.9 %)
REL_ERROR_TARGET = 0.01
MIN_LR_TOLERANCE = 1.05  # a rate within 5 % of a rule's min_lr counts as at its floor
CURVE_KEYS = ["run_name", "status", "task", "model", "schedule", "optimizer", "batch_size", "frequency", "shuffle", "seed",
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
        row["n_params"] = summary.get("n_params")  # runs of before 2026-12-07 did not record it
    row["diverged_at_epoch"] = summary.get("diverged_at_epoch") if summary else None
    row["epochs_completed"] = (summary or {}).get("epochs_completed") or 0
    metric = row["metric"]
    # An unfinished run's summary was written when it started: its metrics.csv is newer.
    if metrics is not None and len(metrics) and (row["status"] not in FINISHED or not final):
        last = metrics.iloc[-1]
        final = {c: last[c] for c in METRIC_COLUMNS if c in metrics.columns}
        row["epochs_completed"] = max(int(row["epochs_completed"]), len(metrics))
        row["total_time_s"] = last.get("wall_time_s", row.get("total_time_s"))
        if metric in metrics.columns:
            top = best_row(metrics.to_dict("records"), metric, higher_is_better(row))
            best = {metric: top[metric]} if top is not None else {}
    for name in METRIC_COLUMNS:
        if name in final:
            row[f"final_{name}"] = _float(final[name])
    if metric and metric in best:
        row[f"best_{metric}"] = _float(best[metric])
    row.update(_trajectory(metrics, metric, row))
    cfg = _read_config(run_dir) or {}
    task = cfg.get("task") if isinstance(cfg.get("task"), dict) else {}
    row.update({key: task.get(key) for key in ("shuffle", "subset", "test_subset")})
    schedule = cfg.get("schedule") if isinstance(cfg.get("schedule"), dict) else {}
    row.update(_rule_statistics(metrics, schedule.get("min_lr")))
    rerun = (summary or {}).get("rerun")  # what reproducing the run needs (older runs did not record it)
    if isinstance(rerun, dict):
        row.update(threads=rerun.get("threads"), torch=rerun.get("torch"), cpu=rerun.get("cpu"),
                   cpu_model=rerun.get("cpu_model"), mkl_cbwr=rerun.get("MKL_CBWR"), commit=rerun.get("commit"))
    row["run_dir"] = str(run_dir)
    return row


def _trajectory(metrics: Optional[pd.DataFrame], metric: Optional[str], row: dict[str, Any]) -> dict[str, Any]:
    """From metrics.csv: the epoch of the best metric, the first epoch below the PINN's 1 % target,
    the rate used in the last epoch and the highest rate of the run."""
    out: dict[str, Any] = {"best_epoch": float("nan"), "first_epoch_below_1pct": float("nan"),
                           "final_lr": float("nan"), "peak_lr": float("nan")}
    if metrics is None or not len(metrics):
        return out
    if "lr" in metrics.columns:
        out["final_lr"] = _float(metrics["lr"].iloc[-1])
        out["peak_lr"] = _float(pd.to_numeric(metrics["lr"], errors="coerce").max())
    top = best_row(metrics.to_dict("records"), metric, higher_is_better(row)) if metric in metrics.columns else None
    if top is not None:
        out["best_epoch"] = int(top["epoch"])
        values = metrics[metric]
        if metric == "rel_error":
            below = metrics["epoch"][values < REL_ERROR_TARGET]
            out["first_epoch_below_1pct"] = int(below.iloc[0]) if len(below) else float("nan")
    return out


def _rule_statistics(metrics: Optional[pd.DataFrame], min_lr: Any) -> dict[str, Any]:
    """What a loss-driven rule saw and did, from metrics.csv (NaN for other schedules): the share of
    epochs it called stagnant; its mean |slope| over the first third of the run, when it sets the
    rate's course (how noisy the slope was); the first epoch at its lower bound ``min_lr`` and the
    share of epochs spent there (within 5 %: a convergent step lifts the rate a little off it)."""
    nan = float("nan")
    out: dict[str, Any] = {"stagnant_pct": nan, "early_abs_slope": nan, "first_epoch_at_min_lr": nan,
                           "at_min_lr_pct": nan}
    if metrics is None or "dlrs_slope" not in metrics.columns or not metrics["dlrs_slope"].notna().any():
        return out
    decided = metrics["dlrs_regime"].dropna() if "dlrs_regime" in metrics.columns else pd.Series(dtype=object)
    if len(decided):
        out["stagnant_pct"] = 100.0 * float((decided == "stagnant").mean())
    slopes = pd.to_numeric(metrics["dlrs_slope"], errors="coerce")
    out["early_abs_slope"] = float(slopes.iloc[: max(1, len(slopes) // 3)].abs().mean())
    floor = _float(min_lr)
    if math.isfinite(floor) and floor > 0 and "lr" in metrics.columns:
        at_floor = pd.to_numeric(metrics["lr"], errors="coerce") <= floor * MIN_LR_TOLERANCE
        out["at_min_lr_pct"] = 100.0 * float(at_floor.mean())
        if at_floor.any():
            out["first_epoch_at_min_lr"] = int(metrics["epoch"][at_floor].iloc[0])
    return out


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
        if not run_dir.is_dir() or run_dir.name == REPORT_DIR:
            continue
        try:
            row = _read_run(run_dir)
        except (TypeError, ValueError, KeyError, AttributeError) as e:  # well-formed files, odd contents
            _warn(f"{run_dir}: unexpected contents ({type(e).__name__}: {e}); skipped")
            row = None
        if row is not None:
            rows.append(row)
    df = pd.DataFrame(rows)
    for col in [*RUN_COLUMNS, "total_time_s", "run_dir", "shuffle", "subset", "test_subset"]:
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


