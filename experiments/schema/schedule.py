"""configs/schedule/*.yaml: ``_partial_`` configs of scheduler classes, one schema per class
(picked by ``_target_``; dlrs and dlrs_symmetric share ``dlrs.DLRS``). Every schedule takes a
linear warm-up (experiments/schedules.py: EpochSchedule)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Optional

from pydantic import Field, PrivateAttr, model_validator

from .base import Group, Registry
from .values import (FRACTION, NON_NEGATIVE, NON_NEGATIVE_INT, OPEN_FRACTION, PATH, POSITIVE, POSITIVE_INT, Check,
                     choice, group_options, rule)

if TYPE_CHECKING:
    from .config import Config


def _g(x: float) -> str:
    return f"{x:g}"


class ScheduleBase(Group):
    name: Annotated[str, choice(group_options("schedule"))]
    partial: Annotated[Literal[True], Check("true (the optimizer is passed in later)", lambda v: v is True)] = \
        Field(alias="_partial_")
    warmup_epochs: Annotated[int, NON_NEGATIVE_INT]     # < trainer.epochs (check_with)
    warmup_start_factor: Annotated[float, FRACTION]

    def check_with(self, cfg: "Config") -> None:
        epochs = cfg.trainer.epochs
        if self.warmup_epochs >= epochs:
            raise rule(f"schedule.warmup_epochs must be an integer in [0, trainer.epochs={epochs}), "
                       f"got {self.warmup_epochs!r}")


class Static(ScheduleBase):
    target: Literal["dlrs.Static"] = Field(alias="_target_")


class BoundedRate(ScheduleBase):
    """A rule that keeps the rate in [min_lr, max_lr]."""

    min_lr: Annotated[float, POSITIVE]
    max_lr: Annotated[float, POSITIVE]

    @model_validator(mode="after")
    def _bounds_in_order(self) -> "BoundedRate":
        if self.min_lr >= self.max_lr:
            raise rule(f"schedule.min_lr ({self.min_lr}) must be < schedule.max_lr ({self.max_lr})")
        return self


# dlrs.rules.SLOPE_KINDS, written out: the schema does not import torch (a test keeps them equal)
DLRS_SLOPES = ("paper", "lsq", "epoch_mean")


class DLRS(BoundedRate):
    """The paper's rule (dlrs), its ablations (dlrs_symmetric) and robust slopes (dlrs_lsq, dlrs_epoch_mean)."""

    target: Literal["dlrs.DLRS"] = Field(alias="_target_")
    delta_d: Annotated[float, NON_NEGATIVE]             # divergent epoch
    delta_o: Annotated[float, NON_NEGATIVE]             # stagnant / noisy epoch
    delta_i: Annotated[float, NON_NEGATIVE]             # converging epoch
    slope: Annotated[str, choice(DLRS_SLOPES)] = "paper"  # how a window of losses becomes the slope


class AuthorsPINN(ScheduleBase):
    target: Literal["dlrs.authors.AuthorsPINNDLRS"] = Field(alias="_target_")
    min_lr: Annotated[float, POSITIVE]


class AuthorsCIFAR(BoundedRate):
    target: Literal["dlrs.authors.AuthorsCIFARDLRS"] = Field(alias="_target_")
    delta_d: Annotated[float, NON_NEGATIVE]
    delta_i: Annotated[float, NON_NEGATIVE]


class Adacomp(ScheduleBase):
    target: Literal["dlrs.Adacomp"] = Field(alias="_target_")
    window: Annotated[int, POSITIVE_INT]                # optimizer steps per update
    eps: Annotated[float, NON_NEGATIVE]


class Cosine(ScheduleBase):
    target: Literal["torch.optim.lr_scheduler.CosineAnnealingLR"] = Field(alias="_target_")
    T_max: Annotated[int, POSITIVE_INT]
    eta_min: Annotated[float, NON_NEGATIVE]

    def check_with(self, cfg: "Config") -> None:
        super().check_with(cfg)
        if self.eta_min > cfg.optimizer.lr:
            raise rule(f"schedule.eta_min ({_g(self.eta_min)}) is above the initial rate optimizer.lr "
                       f"({_g(cfg.optimizer.lr)}); cosine annealing goes down to eta_min")


class Exponential(ScheduleBase):
    target: Literal["experiments.schedules.exponential"] = Field(alias="_target_")
    gamma: Annotated[Optional[float], FRACTION.or_null()]       # per-epoch factor ...
    final_lr: Annotated[Optional[float], POSITIVE.or_null()]    # ... or the rate after over_epochs
    over_epochs: Annotated[int, POSITIVE_INT]

    @model_validator(mode="after")
    def _one_of_gamma_and_final_lr(self) -> "Exponential":
        if (self.gamma is None) == (self.final_lr is None):
            raise rule("schedule: give exactly one of schedule.gamma and schedule.final_lr "
                       f"(got gamma={self.gamma}, final_lr={self.final_lr}); set the other to null")
        return self

    def check_with(self, cfg: "Config") -> None:
        super().check_with(cfg)
        if self.final_lr is not None and self.final_lr > cfg.optimizer.lr:
            raise rule(f"schedule.final_lr ({_g(self.final_lr)}) is above the initial rate optimizer.lr "
                       f"({_g(cfg.optimizer.lr)}); exponential decay goes down to it")


class Step(ScheduleBase):
    target: Literal["torch.optim.lr_scheduler.StepLR"] = Field(alias="_target_")
    step_size: Annotated[int, POSITIVE_INT]             # epochs between drops
    gamma: Annotated[float, FRACTION]


class Plateau(ScheduleBase):
    target: Literal["torch.optim.lr_scheduler.ReduceLROnPlateau"] = Field(alias="_target_")
    mode: Annotated[str, choice(["min"])]               # it watches the training loss
    factor: Annotated[float, OPEN_FRACTION]
    patience: Annotated[int, NON_NEGATIVE_INT]
    threshold: Annotated[float, NON_NEGATIVE]
    min_lr: Annotated[float, NON_NEGATIVE]

    def check_with(self, cfg: "Config") -> None:
        super().check_with(cfg)
        if self.min_lr > cfg.optimizer.lr:
            raise rule(f"schedule.min_lr ({_g(self.min_lr)}) is above the initial rate optimizer.lr "
                       f"({_g(cfg.optimizer.lr)})")


class Replay(ScheduleBase):
    target: Literal["experiments.schedules.Replay"] = Field(alias="_target_")
    metrics_csv: Annotated[str, PATH]                   # a metrics.csv with >= trainer.epochs rows
    _rates: int = PrivateAttr(0)

    @model_validator(mode="after")
    def _readable(self) -> "Replay":
        from experiments.schedules import read_lr_column  # imports torch: only when replay is chosen

        path = self.metrics_csv
        if not Path(path).is_file():
            raise rule(f"schedule.metrics_csv={path!r} is not a file; give the metrics.csv of the run to replay")
        try:
            self._rates = len(read_lr_column(Path(path)))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, csv.Error) as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise rule(f"schedule.metrics_csv={path}: cannot read its lr column ({reason}); "
                       "give the metrics.csv of a run") from None
        return self

    def check_with(self, cfg: "Config") -> None:
        super().check_with(cfg)
        epochs = cfg.trainer.epochs
        if self._rates < epochs:
            raise rule(f"schedule.metrics_csv={self.metrics_csv} has {self._rates} epochs of rates, fewer than "
                       f"trainer.epochs={epochs}; replay a longer run or set trainer.epochs={self._rates}")


SCHEDULES = Registry("schedule", "_target_", {
    "dlrs.Static": Static,
    "dlrs.DLRS": DLRS,
    "dlrs.authors.AuthorsPINNDLRS": AuthorsPINN,
    "dlrs.authors.AuthorsCIFARDLRS": AuthorsCIFAR,
    "dlrs.Adacomp": Adacomp,
    "torch.optim.lr_scheduler.CosineAnnealingLR": Cosine,
    "experiments.schedules.exponential": Exponential,
    "torch.optim.lr_scheduler.StepLR": Step,
    "torch.optim.lr_scheduler.ReduceLROnPlateau": Plateau,
    "experiments.schedules.Replay": Replay,
})
