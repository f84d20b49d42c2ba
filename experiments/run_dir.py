"""A run's directory, ``<paths.runs>/<experiment_name>/<run_name>/``: what it already holds, and
every file the trainer writes into it.

* ``config.yaml``   the resolved config, written first (an unusable results folder fails there);
* ``metrics.csv``   one row per finished epoch, rewritten at most every few seconds;
* ``summary.json``  status and results, rewritten at start, at the end and when interrupted;
* ``checkpoint.pt`` everything needed to resume exactly (every ``trainer.checkpoint_every`` epochs);
* the task's end-of-run files and ``curves.png``, staged aside and renamed into place.

Every file is written atomically (experiments.io). What a previous run left is validated before
it is used: a damaged file (unparsable, not an object, a field of the wrong type, a truncated
metrics.csv) is a one-line UserError naming the file and what to do, never a traceback.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, Union

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .constants import EXECUTION_ONLY, FINISHED, MOVED_KEYS, STATUSES
from .errors import UserError
from .io import TEMP_GLOB, load_checkpoint, read_json, save_checkpoint_atomic, write_csv_atomic, write_json_atomic, \
    write_text_atomic

METRICS_WRITE_INTERVAL_S = 2.0  # rewrite metrics.csv at most this often (and at every checkpoint)
FIRST_COLUMNS, LAST_COLUMNS = ("epoch", "lr", "train_loss"), ("dlrs_slope", "dlrs_regime", "epoch_time_s", "wall_time_s")
NOT_RESULTS = ("epoch", "lr", "dlrs_slope", "dlrs_regime", "epoch_time_s", "wall_time_s")  # left out of "final"
Mode = Literal["fresh", "resume", "skip"]


# ---- what the files must hold to be used again ----------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", arbitrary_types_allowed=True)


Number = Union[int, float]


class _Summary(_Strict):
    status: Literal[STATUSES]  # type: ignore[valid-type]


class _FinishedSummary(_Summary):
    """What a skipped run's summary must hold: the command line reports from it."""

    epochs: int = Field(ge=1)
    epochs_completed: int = Field(ge=0)
    metric: Optional[str]
    final: dict[str, Any]
    total_time_s: Number


class Position(_Strict):
    """Where a run stands: the trainer's loop state, and what every checkpoint stores of it (the
    trainer changes the fields in place; a checkpoint's copy is validated when it is loaded)."""

    epoch: int = Field(default=0, ge=0)      # epochs finished
    batch: int = Field(default=0, ge=0)      # batches finished in the current epoch
    loss_sum: Number = 0.0                   # their summed loss (a resumed epoch continues the sum)
    epoch_time: Number = 0.0                 # seconds spent in the current epoch so far
    lr_used: Optional[Number] = None         # the rate the current epoch started with
    wall: Number = 0.0                       # seconds of training in finished epochs


class _Checkpoint(_Strict):
    epoch: int = Field(ge=0)
    position: Position
    rows: list[dict[str, Any]]
    identity: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any]
    schedule: dict[str, Any]
    torch_rng: Any
    cuda_rng: Optional[list[Any]]
    python_rng: tuple[Any, ...]


def run_identity(cfg: Union[DictConfig, dict[str, Any]]) -> dict[str, Any]:
    """The resolved config minus execution-only settings: equal identities compute the same run.

    Also takes an identity stored by an older version (a plain dict), so that checkpoints written
    before a key moved still resume."""
    container = copy.deepcopy(cfg) if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True)
    for section, keys in [*EXECUTION_ONLY.items(), *MOVED_KEYS.items()]:
        if keys is None:
            container.pop(section, None)
        else:
            for key in keys:
                container.get(section, {}).pop(key, None)
    return container


def _first_problem(e: ValidationError) -> str:
    err = e.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "the file"
    return f"{where}: {err['msg'].lower()}"


class RunDir:
    """One run's directory. ``writer=False`` (ranks other than 0 under torchrun) reads but never writes."""

    def __init__(self, path: Union[str, Path], identity: dict[str, Any], writer: bool = True) -> None:
        self.path, self.identity, self.writer = Path(path), identity, writer
        self._metrics_written_at = 0.0

    def file(self, name: str) -> Path:
        return self.path / name

    def damaged(self, name: str, reason: str) -> UserError:
        return UserError(f"{self.file(name)} is damaged ({reason}); delete it, or rerun with trainer.force=true "
                         "to start over")

    # ---- what is there already ---------------------------------------------------------------------
    def mode(self, force: bool, resume: bool) -> Mode:
        """'fresh', 'resume' or 'skip', from what the directory holds (validated)."""
        if force or not self.file("config.yaml").exists():
            return "fresh"
        stored = self.stored_identity()
        if stored != self.identity:
            differing = sorted(_diff_keys(stored, self.identity))
            raise UserError(
                f"{self.path} holds a run with a different config (differs in: {', '.join(differing[:5])}); "
                "rerun with trainer.force=true to overwrite it, or set paths.results=... to keep both")
        summary = self.read_summary() if self.file("summary.json").exists() else None
        if summary is not None and summary["status"] in FINISHED:
            self.check_metrics(summary["epochs_completed"])
            return "skip"
        if resume and self.file("checkpoint.pt").exists():
            return "resume"
        return "fresh"

    def stored_identity(self) -> dict[str, Any]:
        try:
            stored = OmegaConf.load(self.file("config.yaml"))
        except Exception as e:  # a damaged or hand-edited file: YAML, encoding or OS errors
            raise self.damaged("config.yaml", type(e).__name__) from None
        if not isinstance(stored, DictConfig):
            raise self.damaged("config.yaml", "it holds a list, not a config")
        try:
            return run_identity(stored)
        except Exception as e:  # e.g. an interpolation in a hand-edited file
            raise self.damaged("config.yaml", type(e).__name__) from None

    def read_summary(self) -> dict[str, Any]:
        """summary.json, checked: an object with a known status, and a finished run's results."""
        data = read_json(self.file("summary.json"))
        if not isinstance(data, dict):
            raise self.damaged("summary.json", f"it holds {type(data).__name__ if data is not None else 'null'}, "
                                               "not an object")
        try:
            schema = _FinishedSummary if data.get("status") in FINISHED else _Summary
            schema.model_validate(data)
        except ValidationError as e:
            raise self.damaged("summary.json", _first_problem(e)) from None
        return data

    def check_metrics(self, epochs: int) -> None:
        """A finished run's metrics.csv: its header and one full row per epoch."""
        path = self.file("metrics.csv")
        try:
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                header = reader.fieldnames or []
                rows = list(reader)
        except FileNotFoundError:
            raise self.damaged("metrics.csv", "it is missing, but summary.json says the run finished") from None
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise self.damaged("metrics.csv", type(e).__name__) from None
        if list(header[:3]) != list(FIRST_COLUMNS):
            raise self.damaged("metrics.csv", f"its header is {','.join(header[:3]) or 'missing'}, "
                                              f"not {','.join(FIRST_COLUMNS)},...")
        short = [i + 1 for i, row in enumerate(rows) if None in row.values() or None in row]
        if short or len(rows) != epochs:
            reason = f"row {short[0]} is cut short" if short else f"{len(rows)} rows, but summary.json has {epochs} epochs"
            raise self.damaged("metrics.csv", reason)

    def load_checkpoint(self, map_location: Any) -> dict[str, Any]:
        """checkpoint.pt of this config, checked field by field."""
        path = self.file("checkpoint.pt")
        state = load_checkpoint(path, map_location=map_location)
        stored = state.get("identity")
        if not isinstance(stored, dict) or run_identity(stored) != self.identity:
            raise UserError(f"checkpoint in {self.path} belongs to a different config; use trainer.force=true")
        try:
            checked = _Checkpoint.model_validate(state)
        except ValidationError as e:
            raise UserError(f"checkpoint {path} is damaged ({_first_problem(e)}); delete it to restart the run, "
                            "or rerun with trainer.force=true") from None
        if not (checked.epoch == checked.position.epoch == len(checked.rows)):
            raise UserError(f"checkpoint {path} is damaged (epoch {checked.epoch}, position at epoch "
                            f"{checked.position.epoch}, {len(checked.rows)} rows); delete it to restart the run, "
                            "or rerun with trainer.force=true")
        return state

    def unusable_checkpoint(self, error: Exception) -> UserError:
        """The checkpoint parsed but does not fit the model, optimizer or schedule of this config."""
        reason = " ".join(f"{type(error).__name__}: {error}".split())[:200]
        return UserError(f"checkpoint {self.file('checkpoint.pt')} does not fit this run ({reason}); delete it to "
                         "restart the run, or rerun with trainer.force=true")

    # ---- writing -------------------------------------------------------------------------------------
    def remove_leftovers(self) -> None:
        """Hidden temp files of writes cut short by a kill."""
        if not self.writer:
            return
        for leftover in self.path.glob(TEMP_GLOB):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink(missing_ok=True)

    def start(self, cfg: DictConfig) -> None:
        """A fresh run: config.yaml first (an unusable results folder fails here), no old checkpoint."""
        if self.writer:
            write_text_atomic(self.file("config.yaml"), OmegaConf.to_yaml(cfg, resolve=True))
            self.file("checkpoint.pt").unlink(missing_ok=True)

    def write_metrics(self, rows: list[dict[str, Any]], force: bool = False) -> None:
        if not self.writer or not rows:
            return
        now = time.monotonic()
        if force or now - self._metrics_written_at >= METRICS_WRITE_INTERVAL_S or len(rows) == 1:
            middle = [k for k in rows[0] if k not in FIRST_COLUMNS + LAST_COLUMNS]
            write_csv_atomic(self.file("metrics.csv"), rows, [*FIRST_COLUMNS, *middle, *LAST_COLUMNS])
            self._metrics_written_at = now

    def save_checkpoint(self, rows: list[dict[str, Any]], state: dict[str, Any]) -> None:
        """metrics.csv up to this point, then the checkpoint (``state`` plus rows and identity)."""
        self.write_metrics(rows, force=True)
        if self.writer:
            save_checkpoint_atomic(self.file("checkpoint.pt"), {**state, "rows": rows, "identity": self.identity})

    def write_summary(self, summary: dict[str, Any]) -> None:
        if self.writer:
            write_json_atomic(self.file("summary.json"), summary)

    def save_artifacts(self, write: Callable[[Path], None]) -> None:
        """``write(folder)`` puts the end-of-run files into a staging folder; they are then renamed
        into place, so that no task has to write its files atomically itself."""
        if not self.writer:
            return
        staging = self.file(".artifacts.tmp")  # matches TEMP_GLOB: removed if a kill leaves it
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            write(staging)
            for item in staging.iterdir():
                if self.file(item.name).is_dir():
                    shutil.rmtree(self.file(item.name))
                os.replace(item, self.file(item.name))
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def provenance() -> dict[str, Any]:
    """What a rerun needs besides the config: CPU results depend on the thread count, the torch
    build, the CPU (``cpu_vendor``, ``cpu_model``) and the code paths its libraries took there
    (``cpu``: ATen's AVX2, AVX512, ...; the pinning variables of experiments/numerics.py: a long PINN
    run on another CPU ends elsewhere unless they are set), and the code on the commit (``dirty``: the
    checkout had uncommitted changes)."""
    import platform
    import subprocess

    import torch

    from .numerics import cpu_model, in_force

    def git(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True,
                                 text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "cpu": torch.backends.cpu.get_cpu_capability(), "machine": platform.machine(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), **cpu_model(), **in_force(), "commit": commit,
            "dirty": bool(status) if status is not None else None}


def _finite(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def best_row(rows: Sequence[Mapping[str, Any]], metric: str, higher_is_better: bool) -> Optional[Mapping[str, Any]]:
    """The epoch row with the best finite ``metric`` (the earliest of equal ones), or None: the one
    definition of "best" for summary.json and the reports."""
    finite = [r for r in rows if _finite(r.get(metric))]
    if not finite:
        return None
    return (max if higher_is_better else min)(finite, key=lambda r: r[metric])


def summarize(cfg: DictConfig, status: str, rows: list[dict[str, Any]], *, task: Any, final_lr: Optional[float],
              total_time_s: float, message: Optional[str], world_size: int, device: str,
              rerun: Optional[dict[str, Any]] = None, n_params: Optional[int] = None) -> dict[str, Any]:
    """summary.json's content: the run's identity in a few fields, the model's parameter count, the
    last and best metrics."""
    metric = task.metric if task else None
    higher = task.higher_is_better if task else None
    final = {k: v for k, v in (rows[-1] if rows else {}).items() if k not in NOT_RESULTS}
    best: dict[str, Any] = {}
    top = best_row(rows, metric, bool(higher)) if metric else None
    if top is not None:
        best = {metric: top[metric], "epoch": top["epoch"]}
        threshold = getattr(task, "target", None)  # e.g. the PINN's 1 % (the authors' stopping rule)
        if threshold is not None:
            below = [r["epoch"] for r in rows if _finite(r.get(metric)) and r[metric] < threshold]
            best["first_epoch_below_target"] = below[0] if below else None
            best["target"] = threshold
    return {
        "status": status, "experiment": cfg.experiment_name, "run_name": cfg.run_name,
        "task": cfg.task.name, "model": cfg.model.name, "schedule": cfg.schedule.name,
        "optimizer": cfg.optimizer.name, "lr": float(cfg.optimizer.lr), "batch_size": int(cfg.task.batch_size),
        "frequency": float(cfg.task.frequency) if "frequency" in cfg.task else None,
        "seed": int(cfg.trainer.seed), "epochs": int(cfg.trainer.epochs), "n_params": n_params,
        "epochs_completed": len(rows), "metric": metric, "higher_is_better": higher,
        "final": final, "best": best, "final_lr": final_lr, "total_time_s": total_time_s,
        "diverged_at_epoch": rows[-1]["epoch"] if status == "diverged" else None,
        "message": message, "world_size": world_size, "device": device, "rerun": rerun,
    }


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}
