"""The one training loop, for every task, model and schedule.

Per batch: loss -> backward -> optimizer step -> ``schedule.observe(loss)``.
Per epoch: ``schedule.step()``, the optimizer's evaluation weights (Schedule-Free), evaluation, a row
in ``metrics.csv``, maybe a checkpoint.
It gets one validated ``Config`` (experiments/config_check.py) and builds every component from it
before it writes anything.
Nothing in the batch loop reads a value back from the device; the epoch's loss is read once.
The run directory's files (what is there already, config, metrics, checkpoints, summary) are
experiments.run_dir's.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
import torch.distributed as dist
from omegaconf import DictConfig

from .builders import build_optimizer, build_schedule, build_task
from .config_check import check_config
from .errors import UserError
from .numerics import pin
from .progress import EpochProgress
from .run_dir import Position, RunDir, provenance, run_identity, summarize
from .schema import Config
from .tasks.base import TaskContext
from .tensorboard_log import TensorBoardLog, require_tensorboard

log = logging.getLogger(__name__)
BATCH_NORM_RECALIBRATION_BATCHES = 50  # schedulefree's documented recipe


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

    def __init__(self, config: Config, env: DistEnv, device: torch.device) -> None:
        self.config, self.env, self.device = config, env, device
        self.run_dir = RunDir(config.run_dir, run_identity(config.record), writer=env.is_main)
        self.autocast = config.trainer.precision == "bf16"
        self.task: Any = None
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.rows: list[dict[str, Any]] = []
        self.rerun = provenance()  # threads, torch, commit: what reproducing this run needs
        self.position = Position()

    # ---- main entry ----------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        run_dir = self.run_dir
        mode = run_dir.mode(force=self.config.trainer.force, resume=self.config.trainer.resume)
        if mode == "skip":
            summary = run_dir.read_summary()
            if self.env.is_main:
                print(f"already {summary['status']}: {run_dir.path} (trainer.force=true reruns it)")
            return summary
        checkpoint = run_dir.load_checkpoint(self.device) if mode == "resume" else None
        self._build()  # loads the data, builds every component: a problem there fails before anything is written
        if checkpoint is not None:
            self._restore(checkpoint)
        run_dir.remove_leftovers()
        if checkpoint is not None:
            run_dir.write_metrics(self.rows, force=True)  # drop rows written after the checkpoint
            print(f"resuming {run_dir.path} at epoch {self.position.epoch + 1}"
                  + (f", batch {self.position.batch + 1}" if self.position.batch else ""))
        else:
            run_dir.start(self.config.record)
        self._write_summary("running")

        try:
            with _SignalFlag() as stop:
                status = self._train(stop)
        except (Interrupted, UserError):
            raise
        except Exception as e:
            self._write_summary("failed", message=f"{type(e).__name__}: {e}")
            raise
        if status != "interrupted":
            self._save_artifacts()
        summary = self._write_summary(status)
        if self.env.enabled:
            summary = self._check_ranks_agree(summary)
        return summary

    def _build(self) -> None:
        """Task (with its data), model, optimizer and schedule, seeded."""
        config, env = self.config, self.env
        torch.backends.cudnn.benchmark = config.trainer.cudnn_benchmark
        seed_everything(config.trainer.seed)
        ctx = TaskContext(self.device, config.trainer.seed, env.rank, env.world_size, config.trainer.channels_last,
                          data_root=config.paths.data)
        if env.enabled and not env.is_main:
            dist.barrier()  # let rank 0 download the data alone (torchrun stops us if it fails)
        self.task = build_task(config.task, ctx)
        if config.trainer.tensorboard:
            require_tensorboard()
        if env.enabled and env.is_main:
            dist.barrier()
        self.model = self.task.build_model(config.model)
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.schedule = build_schedule(config, self.optimizer)
        self.train_model = self.model
        if env.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(self.model, device_ids=ids)

    # ---- the loop ------------------------------------------------------------------------
    def _optimizer_mode(self, mode: str, epoch: int) -> None:
        """Schedule-Free optimizers train at one point (y) and evaluate at another (x): ``train()``
        before training steps, ``eval()`` before evaluation and every checkpoint (their
        documentation). Other optimizers have neither method."""
        switch = getattr(self.optimizer, mode, None)
        if switch is None:
            return
        switch()
        if mode == "eval" and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.model.modules()):
            # the package's recipe: batch-norm statistics were gathered at y; recompute them at x
            # from the first training batches of this epoch (the same batches on a resume), without
            # drawing from the training's random numbers (dropout)
            self.model.train()
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices), torch.no_grad(), self._autocast():
                for batch in itertools.islice(self.task.train_batches(epoch), BATCH_NORM_RECALIBRATION_BATCHES):
                    self.task.loss(self.model, batch)

    def _leave_training_point(self, epoch: int) -> Optional[dict[str, Any]]:
        """Mid-epoch, before a checkpoint: switch a Schedule-Free optimizer to x, and return the
        model's state at y, which the resumed run restores exactly (the switch y -> x -> y rounds)."""
        if getattr(self.optimizer, "eval", None) is None:
            return None
        at_y = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._optimizer_mode("eval", epoch)
        return at_y

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast and self.task.supports_autocast:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batches(self, epoch: int, skip: int) -> Iterator[Any]:
        for i, batch in enumerate(self.task.train_batches(epoch)):
            if i >= skip:  # a resumed epoch replays the same deterministic batches up to here
                yield batch

    def _train(self, stop: _SignalFlag) -> str:
        settings, pos, env = self.config.trainer, self.position, self.env
        epochs = settings.epochs
        progress = EpochProgress(epochs, pos.epoch, settings.progress, self.task.metric, enabled=env.is_main)
        tensorboard = TensorBoardLog(self.run_dir.path, pos.epoch + 1) if settings.tensorboard and env.is_main else None
        status = "completed"
        try:
            for epoch in range(pos.epoch, epochs):
                t0 = time.perf_counter() - pos.epoch_time
                if pos.lr_used is None:
                    pos.lr_used = float(self.optimizer.param_groups[0]["lr"])
                loss_sum = torch.tensor(pos.loss_sum, device=self.device)
                self.train_model.train()
                self._optimizer_mode("train", epoch)
                for batch in self._batches(epoch, pos.batch):
                    with self._autocast():
                        loss = self.task.loss(self.train_model, batch)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    self.schedule.observe(loss)
                    loss_sum += loss.detach().float()
                    pos.batch += 1
                    if stop.signum is not None and not env.enabled:
                        pos.loss_sum, pos.epoch_time = float(loss_sum), time.perf_counter() - t0
                        self._interrupt(stop.signum, self._leave_training_point(epoch))
                mean_loss, stop_now = self._epoch_loss(loss_sum, pos.batch, stop)
                diverged = not math.isfinite(mean_loss)
                if not diverged:
                    self.schedule.step(mean_loss)
                seconds = time.perf_counter() - t0
                # evaluation and the checkpoint see the optimizer's evaluation weights (Schedule-Free's x);
                # every rank switches, since it moves the weights
                self._optimizer_mode("eval", epoch)
                row = self._epoch_row(epoch, mean_loss, seconds)
                pos.epoch, pos.batch, pos.loss_sum, pos.epoch_time, pos.lr_used = epoch + 1, 0, 0.0, 0.0, None
                pos.wall += row["epoch_time_s"]
                row["wall_time_s"] = pos.wall
                self.rows.append(row)
                progress.update(row)
                if tensorboard:
                    tensorboard.log(row)
                if diverged:
                    status = "diverged"
                    self.run_dir.write_metrics(self.rows, force=True)
                    log.warning("non-finite training loss at epoch %d: the run diverged", epoch + 1)
                    break
                every = settings.checkpoint_every
                if epoch + 1 == epochs or (every and (epoch + 1) % every == 0):
                    self._save_checkpoint()
                else:
                    self.run_dir.write_metrics(self.rows)
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
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": self.position.lr_used, "train_loss": mean_loss}
        if self.env.is_main:
            self.model.eval()
            with torch.no_grad(), self._autocast():
                row.update(self.task.evaluate(self.model))
        regime = getattr(self.schedule, "last_regime", None)
        row["dlrs_slope"] = getattr(self.schedule, "last_slope", None) if regime else None
        row["dlrs_regime"] = regime or ""
        row["epoch_time_s"] = seconds
        return row

    # ---- checkpoints, summary, artifacts (the files are run_dir's) -------------------------
    def _save_checkpoint(self, training_point: Optional[dict[str, Any]] = None) -> None:
        self.run_dir.save_checkpoint(self.rows, {
            "training_point": training_point,  # Schedule-Free, stopped mid-epoch: the model at y
            "epoch": self.position.epoch, "position": self.position.model_dump(), "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "python_rng": random.getstate(),
        })

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.schedule.load_state_dict(state["schedule"])
            torch.set_rng_state(state["torch_rng"].cpu())
            if state.get("cuda_rng") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
            random.setstate(state["python_rng"])
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
            raise self.run_dir.unusable_checkpoint(e) from None
        if state.get("training_point") is not None:  # stopped mid-epoch: continue from y itself
            self.optimizer.train()
            self.model.load_state_dict(state["training_point"])
        self.position, self.rows = Position(**state["position"]), list(state["rows"])

    def _save_artifacts(self) -> None:
        """The task's end-of-run files and the curves figure."""
        from .plots import plot_run_curves

        def write(folder: Any) -> None:
            self.task.save_artifacts(self.model, folder)
            plot_run_curves(self.rows, self.task.metric, folder / "curves.png")

        self.run_dir.save_artifacts(write)

    def _interrupt(self, signum: int, training_point: Optional[dict[str, Any]] = None) -> None:
        self._save_checkpoint(training_point)
        self._write_summary("interrupted", message=f"{signal.Signals(signum).name}; resume by running the same command")
        raise Interrupted(signum)

    def _write_summary(self, status: str, message: Optional[str] = None) -> dict[str, Any]:
        final_lr = float(self.optimizer.param_groups[0]["lr"]) if self.optimizer is not None else None
        model = getattr(self, "model", None)
        n_params = sum(p.numel() for p in model.parameters()) if model is not None else None
        summary = summarize(self.config.record, status, self.rows, task=self.task, final_lr=final_lr,
                            total_time_s=self.position.wall, message=message, world_size=self.env.world_size,
                            device=str(self.device), rerun=self.rerun, n_params=n_params)
        self.run_dir.write_summary(summary)
        return summary

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
        self.run_dir.write_summary(summary)
        return summary


def train(config: Config | DictConfig) -> dict[str, Any]:
    """Train (or resume, or skip) the run ``config`` describes; returns the summary. The command line
    passes the Config it validated; a composed DictConfig (from Python: tests, notebooks) is validated
    here first."""
    if isinstance(config, DictConfig):
        config = check_config(config)
    pin(config.trainer.numerics)  # already done by experiments.run; here for callers from Python
    if config.trainer.threads is not None:  # null: torch's default, one thread per core
        torch.set_num_threads(config.trainer.threads)
    env = DistEnv.from_environment()
    device = resolve_device(config.trainer.device, env.local_rank)
    if env.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        summary = Trainer(config, env, device).run()
        if env.enabled:
            dist.barrier()  # no rank tears the group down while another still talks to it
        return summary
    finally:
        if env.enabled and dist.is_initialized():
            # DDP's reducer sits in reference cycles and holds the group; freed at interpreter exit,
            # gloo's threads can abort the process, so free it while the group still exists
            gc.collect()
            dist.destroy_process_group()
