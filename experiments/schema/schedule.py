"""configs/schedule/*.yaml: ``_partial_`` configs of scheduler classes, one schema per class
(picked by ``_target_``; dlrs and dlrs_symmetric share ``dlrs.DLRS``). Every schedule takes a
linear warm-up (experiments/schedules.py: EpochSchedule). A class listed here has rules beyond its
signature, or does not scale the rate (``rates``); any other scheduler class is checked against its
signature and taken to scale optimizer.lr, as torch's do (a new torch schedule is one YAML)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import ClassVar, Literal, Optional

from omegaconf import OmegaConf
from pydantic import Field, PrivateAttr, field_validator, model_validator

from dlrs.rules import SLOPES  # torch-free: dlrs imports its schedulers (and torch) only when they are used

from .base import (CONFIG_DIR, PATH, TRUE, Fraction, Group, NonNegative, NonNegativeInt, OpenFraction, Positive,
                   PositiveInt, Registry, group_options, name, rule)

# What a schedule does to optimizer.lr: keeps it, scales it (multiples of it, as torch's schedules do),
# or sets rates of its own (bounds, a rule that reads the rate's size, another run's rates). Optimizers
# declare which they take (OptimizerBase.takes_rates); config.py pairs the two by it.
Rates = Literal["constant", "relative", "absolute"]
RATES_IN_WORDS = {"constant": "keeps optimizer.lr", "relative": "scales optimizer.lr",
                  "absolute": "sets rates of its own"}


class ScheduleBase(Group):
    name: name()
    target: str = Field(alias="_target_")
    partial: TRUE = Field(alias="_partial_", description="true (the optimizer is passed in later)")
    warmup_epochs: NonNegativeInt                       # < trainer.epochs (config.py)
    warmup_start_factor: Fraction
    # a key that is a rate the schedule goes down to, so at most optimizer.lr; and why, in the message
    floor: ClassVar[tuple[str, str]] = ("", "")
    # "relative" unless a class here says otherwise: any other scheduler class (torch's) scales the rate
    rates: ClassVar[Rates] = "relative"

    @property
    def epochs_of_rates(self) -> Optional[int]:
        """Epochs of rates it holds, where that bounds trainer.epochs (replay); the rules are config.py's."""
        return None


class Static(ScheduleBase):
    """No keys of its own."""

    rates = "constant"


class BoundedRate(ScheduleBase):
    """A rule that keeps the rate in [min_lr, max_lr]."""

    rates = "absolute"
    min_lr: Positive
    max_lr: Positive

    @model_validator(mode="after")
    def _bounds_in_order(self) -> "BoundedRate":
        if self.min_lr >= self.max_lr:
            raise rule(f"schedule.min_lr ({self.min_lr}) must be < schedule.max_lr ({self.max_lr})")
        return self


class DLRS(BoundedRate):
    """The paper's rule (dlrs), its ablations (dlrs_symmetric) and robust slopes (dlrs_lsq, dlrs_epoch_mean)."""

    delta_d: NonNegative             # divergent epoch
    delta_o: NonNegative             # stagnant / noisy epoch
    delta_i: NonNegative             # converging epoch
    slope: str = "paper"             # how a window of losses becomes the slope: a name in dlrs.rules.SLOPES

    @field_validator("slope")
    @classmethod
    def _known_slope(cls, slope: str) -> str:
        # read at validation, not import: a slope added to the table later is taken too
        if slope not in SLOPES:
            raise rule(f"schedule.slope={slope!r} is not known; choose one of: {', '.join(SLOPES)}")
        return slope


class AuthorsPINN(ScheduleBase):
    rates = "absolute"                 # a rate floor and fixed offsets
    min_lr: Positive


class AuthorsCIFAR(BoundedRate):
    delta_d: NonNegative
    delta_i: NonNegative


class Adacomp(ScheduleBase):
    rates = "absolute"                 # its rule reads the rate's size (atan(1/lr))
    window: PositiveInt                # optimizer steps per update
    eps: NonNegative


class Cosine(ScheduleBase):
    T_max: PositiveInt
    eta_min: NonNegative
    floor = ("eta_min", "; cosine annealing goes down to eta_min")


class Exponential(ScheduleBase):
    gamma: Optional[Fraction]       # per-epoch factor ...
    final_lr: Optional[Positive]    # ... or the rate after over_epochs
    over_epochs: PositiveInt
    floor = ("final_lr", "; exponential decay goes down to it")
    rates = "absolute"              # final_lr, its usual form, is a rate

    @model_validator(mode="after")
    def _one_of_gamma_and_final_lr(self) -> "Exponential":
        if (self.gamma is None) == (self.final_lr is None):
            raise rule("schedule: give exactly one of schedule.gamma and schedule.final_lr "
                       f"(got gamma={self.gamma}, final_lr={self.final_lr}); set the other to null")
        return self


class Step(ScheduleBase):
    step_size: PositiveInt             # epochs between drops
    gamma: Fraction


class Plateau(ScheduleBase):
    mode: Literal["min"]               # it watches the training loss
    factor: OpenFraction
    patience: NonNegativeInt
    threshold: NonNegative
    min_lr: NonNegative
    floor = ("min_lr", "")


class Replay(ScheduleBase):
    rates = "absolute"                  # another run's rates
    metrics_csv: PATH                   # a metrics.csv with >= trainer.epochs rows
    _rates: int = PrivateAttr(0)

    @property
    def epochs_of_rates(self) -> Optional[int]:
        return self._rates

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
}, base=ScheduleBase, supplied=("optimizer",))


def rates_of(option: str) -> Optional[Rates]:
    """What configs/schedule/<option>.yaml does to optimizer.lr; a file that only changes another
    option's keys (it names that one in its defaults) does what that one does. None: no schema picks it."""
    node = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "schedule" / f"{option}.yaml"))
    keys = node.get("schedule", node)  # a file in the _global_ package holds its keys under schedule:
    if "_target_" not in keys:
        extended = [d for d in node.get("defaults", ()) if isinstance(d, str) and d != "_self_"]
        return rates_of(extended[0]) if extended else None
    return getattr(SCHEDULES.schema_for(keys), "rates", None)


def fitting_schedules(rates: tuple[Rates, ...]) -> list[str]:
    """The options of configs/schedule/ that do to optimizer.lr what one of ``rates`` says."""
    return [option for option in group_options("schedule") if rates_of(option) in rates]
