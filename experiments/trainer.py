"""The one training loop, for every task, model and schedule.

Per batch: loss -> backward -> optimizer step -> ``schedule.observe(loss)``.
Per epoch: ``schedule.step()``, evaluation, a row in ``metrics.csv``, maybe a checkpoint.
Nothing in the batch loop reads a value back from the device; the epoch's loss is read once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
import torch.distributed as dist
from omegaconf import DictConfig, OmegaConf

from .builders import build_optimizer, build_schedule, build_task
from .config_check import check_config
from .errors import UserError
from .io import (TEMP_GLOB, load_checkpoint, read_json, save_checkpoint_atomic, write_csv_atomic, write_json_atomic,
                 write_text_atomic)
from .progress import EpochProgress
from .tasks.base import TaskContext
from .tensorboard_log import TensorBoardLog, require_tensorboard

log = logging.getLogger(__name__)

# Settings that change how a run executes but not what it computes: a run directory may be
# resumed or skipped even if these differ.
EXECUTION_ONLY = {"trainer": ("resume", "force", "device", "progress", "checkpoint_every", "cudnn_benchmark",
                             "tensorboard"),
                  "task": ("download", "num_workers",  # where the data comes from, not what it is
                           "data_root", "lr", "epochs"),  # in older runs' configs: now paths.data, optimizer.lr, trainer.epochs
                  "model": ("lr",),  # in older runs' configs: now optimizer.lr (configs/model_rate/)
                  "paths": None, "run_dir": None}
FINISHED = ("completed", "diverged")
METRICS_WRITE_INTERVAL_S = 2.0  # rewrite metrics.csv at most this often (and at every checkpoint)


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; a checkpoint has been written."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a torchrun job (world_size 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> "DistEnv":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"trainer.device={name} but CUDA is not available here; use trainer.device=cpu or auto")
        return torch.device(name if ":" in name else f"cuda:{local_rank}")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("trainer.device=mps but MPS is not available here; use trainer.device=cpu or auto")
    return torch.device(name)


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config minus execution-only settings: equal identities compute the same run."""
    container = OmegaConf.to_container(cfg, resolve=True)
    for section, keys in EXECUTION_ONLY.items():
        if keys is None:
            container.pop(section, None)
        else:
            for key in keys:
                container.get(section, {}).pop(key, None)
    return container


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


class _SignalFlag:
    """Turns the first SIGINT/SIGTERM into a flag the loop polls; a second SIGINT aborts at once."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("%s received: stopping after this step and writing a checkpoint", signal.Signals(signum).name)

    def __enter__(self) -> "_SignalFlag":
        if threading_is_main():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def threading_is_main() -> bool:
    return threading.current_thread() is threading.main_thread()


class Trainer:
    """Runs one configuration in its run directory: fresh, resumed, or skipped if already done."""

    def __init__(self, cfg: DictConfig, env: DistEnv, device: torch.device) -> None:
        self.cfg, self.env, self.device = cfg, env, device
        self.run_dir = Path(cfg.run_dir)
        self.identity = run_identity(cfg)
        self.autocast = cfg.trainer.precision == "bf16"

    # ---- run directory -------------------------------------------------------------------
    def _existing_state(self) -> str:
        """'fresh', 'resume' or 'skip', from what the run directory already holds."""
        t = self.cfg.trainer
        config_file, summary_file = self.run_dir / "config.yaml", self.run_dir / "summary.json"
        if t.force or not config_file.exists():
            return "fresh"
        try:
            stored = run_identity(OmegaConf.load(config_file))
        except Exception as e:  # a damaged or hand-edited file
            raise UserError(f"{config_file} is damaged ({type(e).__name__}); delete it, or rerun with "
                            "trainer.force=true to start over") from None
        if stored != self.identity:
            differing = sorted(_diff_keys(stored, self.identity))
            raise UserError(
                f"{self.run_dir} holds a run with a different config (differs in: {', '.join(differing[:5])}); "
                "rerun with trainer.force=true to overwrite it, or set paths.results=... to keep both")
        status = read_json(summary_file).get("status") if summary_file.exists() else None
        if status in FINISHED:
            return "skip"
        if t.resume and (self.run_dir / "checkpoint.pt").exists():
            return "resume"
        return "fresh"

    # ---- main entry ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg, env = self.cfg, self.env
        mode = self._existing_state()
        if mode == "skip":
            summary = read_json(self.run_dir / "summary.json")
            if env.is_main:
                print(f"already {summary['status']}: {self.run_dir} (trainer.force=true reruns it)")
            return summary

        torch.backends.cudnn.benchmark = bool(cfg.trainer.cudnn_benchmark)
        seed_everything(cfg.trainer.seed)
        ctx = TaskContext(self.device, cfg.trainer.seed, env.rank, env.world_size, bool(cfg.trainer.channels_last),
                          data_root=str(cfg.paths.data))
        if env.enabled and not env.is_main:
            dist.barrier()  # let rank 0 download the data alone (torchrun stops us if it fails)
        self.task = task = build_task(cfg.task, ctx)  # loads data: fails before anything is written
        if cfg.trainer.tensorboard:
            require_tensorboard()
        if env.enabled and env.is_main:
            dist.barrier()
        self.model = task.build_model(cfg.model)
        self.optimizer = build_optimizer(cfg.optimizer, self.model.parameters())
        self.schedule = build_schedule(cfg.schedule, self.optimizer)
        self.train_model = self.model
        if env.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(self.model, device_ids=ids)

        self.rows: list[dict[str, Any]] = []
        self.position = {"epoch": 0, "batch": 0, "loss_sum": 0.0, "epoch_time": 0.0,
                         "lr_used": None, "wall": 0.0}
        if env.is_main:
            for leftover in self.run_dir.glob(TEMP_GLOB):  # cut short by a kill
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink(missing_ok=True)
        if mode == "resume":
            self._load_checkpoint()
            print(f"resuming {self.run_dir} at epoch {self.position['epoch'] + 1}"
                  + (f", batch {self.position['batch'] + 1}" if self.position["batch"] else ""))
        elif env.is_main:
            # config first: an unusable results directory fails here with a clear message
            write_text_atomic(self.run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
            (self.run_dir / "checkpoint.pt").unlink(missing_ok=True)
        self._write_summary("running")
        self._last_metrics_write = 0.0

        try:
            with _SignalFlag() as stop:
                status = self._train(stop)
        except (Interrupted, UserError):
            raise
        except Exception as e:
            self._write_summary("failed", message=f"{type(e).__name__}: {e}")
            raise
        if env.is_main and status != "interrupted":
            self._save_artifacts()
        summary = self._write_summary(status)
        if env.enabled:
            summary = self._check_ranks_agree(summary)
        return summary

    # ---- the loop ------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast and self.task.supports_autocast:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batches(self, epoch: int, skip: int) -> Iterator[Any]:
        for i, batch in enumerate(self.task.train_batches(epoch)):
            if i >= skip:  # a resumed epoch replays the same deterministic batches up to here
                yield batch

    def _train(self, stop: _SignalFlag) -> str:
        cfg, pos, env = self.cfg, self.position, self.env
        epochs = int(cfg.trainer.epochs)
        progress = EpochProgress(epochs, pos["epoch"], cfg.trainer.progress, self.task.metric, enabled=env.is_main)
        tensorboard = TensorBoardLog(self.run_dir, pos["epoch"] + 1) if cfg.trainer.tensorboard and env.is_main else None
        status = "completed"
        try:
            for epoch in range(pos["epoch"], epochs):
                t0 = time.perf_counter() - pos["epoch_time"]
                if pos["lr_used"] is None:
                    pos["lr_used"] = float(self.optimizer.param_groups[0]["lr"])
                loss_sum = torch.tensor(pos["loss_sum"], device=self.device)
                self.train_model.train()
                for batch in self._batches(epoch, pos["batch"]):
                    with self._autocast():
                        loss = self.task.loss(self.train_model, batch)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    self.schedule.observe(loss)
                    loss_sum += loss.detach().float()
                    pos["batch"] += 1
                    if stop.signum is not None and not env.enabled:
                        pos["loss_sum"], pos["epoch_time"] = float(loss_sum), time.perf_counter() - t0
                        self._interrupt(stop.signum)
                mean_loss, stop_now = self._epoch_loss(loss_sum, pos["batch"], stop)
                diverged = not math.isfinite(mean_loss)
                if not diverged:
                    self.schedule.step(mean_loss)
                row = self._epoch_row(epoch, mean_loss, time.perf_counter() - t0)
                pos.update(epoch=epoch + 1, batch=0, loss_sum=0.0, epoch_time=0.0, lr_used=None,
                           wall=pos["wall"] + row["epoch_time_s"])
                row["wall_time_s"] = pos["wall"]
                self.rows.append(row)
                progress.update(row)
                if tensorboard:
                    tensorboard.log(row)
                if diverged:
                    status = "diverged"
                    self._write_metrics(force=True)
                    log.warning("non-finite training loss at epoch %d: the run diverged", epoch + 1)
                    break
                every = int(cfg.trainer.checkpoint_every)
                if epoch + 1 == epochs or (every and (epoch + 1) % every == 0):
                    self._save_checkpoint()
                else:
                    self._write_metrics()
                if stop_now is not None:
                    self._interrupt(stop_now)
        finally:
            progress.close()
            if tensorboard:
                tensorboard.close()
        return status

    def _epoch_loss(self, loss_sum: torch.Tensor, batches: int, stop: _SignalFlag) -> tuple[float, Optional[int]]:
        """Mean batch loss over all ranks (the epoch's one read), and a stop request agreed by all."""
        if not self.env.enabled:
            return float(loss_sum) / max(batches, 1), None
        self._rank_batches = batches  # this rank's share of the epoch, reported by _check_ranks_agree
        packed = torch.stack([loss_sum.double(), torch.tensor(float(batches), device=loss_sum.device).double(),
                              torch.tensor(float(stop.signum or 0), device=loss_sum.device).double()])
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
        total, count, signals = packed.tolist()
        # any rank asked to stop -> all stop at this epoch boundary, so no collective is left waiting
        return total / max(count, 1.0), (stop.signum or signal.SIGTERM) if signals else None

    def _epoch_row(self, epoch: int, mean_loss: float, seconds: float) -> dict[str, Any]:
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": self.position["lr_used"], "train_loss": mean_loss}
        if self.env.is_main:
            self.model.eval()
            with torch.no_grad(), self._autocast():
                row.update(self.task.evaluate(self.model))
        regime = getattr(self.schedule, "last_regime", None)
        row["dlrs_slope"] = getattr(self.schedule, "last_slope", None) if regime else None
        row["dlrs_regime"] = regime or ""
        row["epoch_time_s"] = seconds
        return row

    # ---- files ---------------------------------------------------------------------------
    def _fieldnames(self) -> list[str]:
        middle = [k for k in (self.rows[0] if self.rows else {}) if k not in ("epoch", "lr", "train_loss", "dlrs_slope",
                                                                          "dlrs_regime", "epoch_time_s", "wall_time_s")]
        return ["epoch", "lr", "train_loss", *middle, "dlrs_slope", "dlrs_regime", "epoch_time_s", "wall_time_s"]

    def _write_metrics(self, force: bool = False) -> None:
        if not self.env.is_main or not self.rows:
            return
        now = time.monotonic()
        if force or now - self._last_metrics_write >= METRICS_WRITE_INTERVAL_S or len(self.rows) == 1:
            write_csv_atomic(self.run_dir / "metrics.csv", self.rows, self._fieldnames())
            self._last_metrics_write = now

    def _save_checkpoint(self) -> None:
        self._write_metrics(force=True)
        if not self.env.is_main:
            return
        save_checkpoint_atomic(self.run_dir / "checkpoint.pt", {
            "epoch": self.position["epoch"], "position": dict(self.position), "rows": self.rows,
            "identity": self.identity, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "python_rng": random.getstate(),
        })

    def _load_checkpoint(self) -> None:
        state = load_checkpoint(self.run_dir / "checkpoint.pt", map_location=self.device)
        if state.get("identity") != self.identity:
            raise UserError(f"checkpoint in {self.run_dir} belongs to a different config; use trainer.force=true")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.position, self.rows = dict(state["position"]), list(state["rows"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        random.setstate(state["python_rng"])
        self._write_metrics(force=True)  # drop rows written after the checkpoint

    def _interrupt(self, signum: int) -> None:
        self._save_checkpoint()
        self._write_summary("interrupted", message=f"{signal.Signals(signum).name}; resume by running the same command")
        raise Interrupted(signum)

    def _write_summary(self, status: str, message: Optional[str] = None) -> dict[str, Any]:
        cfg, task = self.cfg, self.task if hasattr(self, "task") else None
        metric = task.metric if task else None
        higher = task.higher_is_better if task else None
        final = {k: v for k, v in (self.rows[-1] if self.rows else {}).items()
                 if k not in ("epoch", "lr", "dlrs_slope", "dlrs_regime", "epoch_time_s", "wall_time_s")}
        best: dict[str, Any] = {}
        finite_rows = [r for r in self.rows if isinstance(r.get(metric), float) and math.isfinite(r[metric])]
        if finite_rows:
            pick = max if higher else min
            best_row = pick(finite_rows, key=lambda r: r[metric])
            best = {metric: best_row[metric], "epoch": best_row["epoch"]}
            threshold = getattr(task, "target", None)  # e.g. the PINN's 1 % (the authors' stopping rule)
            if threshold is not None:
                below = [r["epoch"] for r in finite_rows if r[metric] < threshold]
                best["first_epoch_below_target"] = below[0] if below else None
                best["target"] = threshold
        summary = {
            "status": status, "experiment": cfg.experiment_name, "run_name": cfg.run_name,
            "task": cfg.task.name, "model": cfg.model.name, "schedule": cfg.schedule.name,
            "optimizer": cfg.optimizer.name, "lr": float(cfg.optimizer.lr), "batch_size": int(cfg.task.batch_size),
            "frequency": float(cfg.task.frequency) if "frequency" in cfg.task else None,
            "seed": int(cfg.trainer.seed), "epochs": int(cfg.trainer.epochs),
            "epochs_completed": len(self.rows), "metric": metric, "higher_is_better": higher,
            "final": final, "best": best,
            "final_lr": float(self.optimizer.param_groups[0]["lr"]) if hasattr(self, "optimizer") else None, "total_time_s": self.position["wall"] if hasattr(self, "position") else 0.0,
            "diverged_at_epoch": self.rows[-1]["epoch"] if status == "diverged" else None,
            "message": message, "world_size": self.env.world_size, "device": str(self.device),
        }
        if self.env.is_main:
            write_json_atomic(self.run_dir / "summary.json", summary)
        return summary

    def _save_artifacts(self) -> None:
        """The task's end-of-run files and the curves figure: written aside, then renamed into place,
        so that no task has to write its files atomically itself."""
        from .plots import plot_run_curves

        staging = self.run_dir / ".artifacts.tmp"  # matches TEMP_GLOB: removed if a kill leaves it
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            self.task.save_artifacts(self.model, staging)
            plot_run_curves(self.rows, self.task.metric, staging / "curves.png")
            for item in staging.iterdir():
                if (self.run_dir / item.name).is_dir():
                    shutil.rmtree(self.run_dir / item.name)
                os.replace(item, self.run_dir / item.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _check_ranks_agree(self, summary: dict[str, Any]) -> dict[str, Any]:
        """All ranks must end with the same weights and rate; record the check in the summary."""
        flat = torch.cat([p.detach().double().flatten() for p in self.model.parameters()])
        # the last entry, this rank's batches in its last epoch, shows that the data was sharded
        extras = [float(self.optimizer.param_groups[0]["lr"]), float(getattr(self, "_rank_batches", 0))]
        local = torch.cat([torch.stack([flat.sum(), (flat * flat).sum()]),
                           torch.tensor(extras, dtype=torch.float64, device=flat.device)])
        gathered = [torch.zeros_like(local) for _ in range(self.env.world_size)]
        dist.all_gather(gathered, local)
        values = [g.tolist() for g in gathered]
        summary["ranks"] = {"weight_sum": [v[0] for v in values], "weight_sq_sum": [v[1] for v in values],
                            "lr": [v[2] for v in values], "agree": all(v[:3] == values[0][:3] for v in values),
                            "batches_last_epoch": [int(v[3]) for v in values]}
        if self.env.is_main:
            write_json_atomic(self.run_dir / "summary.json", summary)
        return summary


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


def train(cfg: DictConfig) -> dict[str, Any]:
    """Validate ``cfg``, then train (or resume, or skip) the run it describes; returns the summary."""
    check_config(cfg)
    env = DistEnv.from_environment()
    device = resolve_device(cfg.trainer.device, env.local_rank)
    if env.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return Trainer(cfg, env, device).run()
    finally:
        if env.enabled and dist.is_initialized():
            dist.destroy_process_group()
