"""Learning-rate schedules for the harness, built from ``configs/schedule/*.yaml`` with Hydra.

Each schedule config names a scheduler class or factory in ``_target_`` (``_partial_: true``: the
optimizer is passed in here). ``EpochSchedule`` gives the trainer one protocol for all of them:
``observe(loss)`` once per batch (DLRS and Adacomp read the losses, torch's schedulers ignore
them) and ``step(mean_loss)`` once per epoch (``ReduceLROnPlateau`` watches the mean; the others
step without it). ``warmup_epochs`` puts a linear warm-up in front of any schedule.

Adding a schedule: one YAML file in ``configs/schedule/`` (docs/extending.md has a worked example, which
tests/test_extending.py runs); its keys are checked against the class's signature. A class here only
where torch lacks it; a schema in experiments/schema/schedule.py only for rules beyond the signature,
or for a schedule that does not scale optimizer.lr as torch's do (``rates``: it keeps the rate, or
sets rates of its own, which optimizers with their own step size such as Prodigy refuse).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Callable, Optional

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LinearLR, LRScheduler, ReduceLROnPlateau

# Keys of a schedule config that the harness reads itself (not passed to the scheduler).
HARNESS_KEYS = ("name", "warmup_epochs", "warmup_start_factor")


class EpochSchedule:
    """Any scheduler behind the trainer's protocol, with an optional linear warm-up in front.

    During the first ``warmup_epochs`` epochs torch's ``LinearLR`` raises the rate from
    ``warmup_start_factor * lr`` to ``lr``; the schedule proper is created when the warm-up ends,
    so it starts from the full rate, and only then sees batch losses.
    """

    def __init__(self, make: Callable[[Optimizer], Any], optimizer: Optimizer, warmup_epochs: int = 0,
                 warmup_start_factor: float = 0.1) -> None:
        self.make, self.optimizer = make, optimizer
        self.warmup_epochs, self.epoch = int(warmup_epochs), 0
        self.warmup: Optional[LinearLR] = None
        self.main: Any = None
        if self.warmup_epochs > 0:
            self.warmup = LinearLR(optimizer, start_factor=warmup_start_factor, total_iters=self.warmup_epochs)
        else:
            self.main = make(optimizer)

    @property
    def watches_mean_loss(self) -> bool:
        return isinstance(self.main, ReduceLROnPlateau)

    def observe(self, loss: Any) -> None:
        observe = getattr(self.main, "observe", None)
        if observe is not None:
            observe(loss)

    def step(self, mean_loss: float) -> None:
        """End of epoch ``self.epoch``: move the rate to the one for the next epoch."""
        self.epoch += 1
        if self.main is None:
            self.warmup.step()
            if self.epoch >= self.warmup_epochs:
                self.main = self.make(self.optimizer)
        elif self.watches_mean_loss:
            self.main.step(mean_loss)
        else:
            self.main.step()

    # DLRS reports what it decided; the trainer writes it to metrics.csv
    @property
    def last_slope(self) -> Optional[float]:
        return getattr(self.main, "last_slope", None)

    @property
    def last_regime(self) -> Optional[str]:
        return getattr(self.main, "last_regime", None)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "warmup": self.warmup.state_dict() if self.warmup else None,
                "main": self.main.state_dict() if self.main is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        if self.warmup is not None and state["warmup"] is not None:
            self.warmup.load_state_dict(state["warmup"])
        if state["main"] is not None:
            if self.main is None:
                self.main = self.make(self.optimizer)
            self.main.load_state_dict(state["main"])


# ---- what torch.optim.lr_scheduler lacks ---------------------------------------------------------
class _Decay:
    """gamma ** min(epoch, stop): a picklable factor for LambdaLR."""

    def __init__(self, gamma: float, stop: Optional[int]) -> None:
        self.gamma, self.stop = gamma, stop

    def __call__(self, epoch: int) -> float:
        return self.gamma ** (epoch if self.stop is None else min(epoch, self.stop))


def exponential(optimizer: Optimizer, gamma: Optional[float] = None, final_lr: Optional[float] = None,
                over_epochs: Optional[int] = None) -> LambdaLR:
    """Exponential decay, ``lr * gamma**epoch``; or, with ``final_lr``, the ``gamma`` that reaches
    ``final_lr`` after ``over_epochs`` epochs, after which the rate stays there."""
    if (gamma is None) == (final_lr is None):
        raise ValueError("exponential: give exactly one of gamma and final_lr")
    stop = None
    if final_lr is not None:
        initial = optimizer.param_groups[0]["lr"]
        gamma, stop = (final_lr / initial) ** (1.0 / over_epochs), int(over_epochs)
    return LambdaLR(optimizer, _Decay(float(gamma), stop))


class Replay(LRScheduler):
    """Replays the per-epoch ``lr`` column of another run's ``metrics.csv``: an open-loop copy of
    the rates that run used, epoch by epoch (the last one is held if this run is longer)."""

    def __init__(self, optimizer: Optimizer, metrics_csv: str, last_epoch: int = -1) -> None:
        self.metrics_csv = str(metrics_csv)
        self.rates = read_lr_column(Path(metrics_csv))
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        rate = self.rates[min(max(self.last_epoch, 0), len(self.rates) - 1)]
        return [rate for _ in self.optimizer.param_groups]


def read_lr_column(path: Path) -> list[float]:
    """The ``lr`` column of a metrics.csv, in epoch order; ValueError if unusable."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "lr" not in rows[0]:
        raise ValueError(f"{path} has no 'lr' column")
    rates = [float(r["lr"]) for r in rows]
    if not all(math.isfinite(r) and r > 0 for r in rates):
        raise ValueError(f"{path}: the 'lr' column holds a rate that is not a finite number > 0")
    return rates
