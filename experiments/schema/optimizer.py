"""configs/optimizer/*.yaml: ``_partial_`` configs of optimizer classes (torch.optim, schedulefree,
prodigyopt), picked by ``_target_``. The bounds are the classes' own, so the optimizer never raises
on a value; any other optimizer class is checked against its signature."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import TRUE, Betas, Group, NonNegative, NonNegativeInt, Positive, Registry, name
from .schedule import Rates


class OptimizerBase(Group):
    name: name()
    target: str = Field(alias="_target_")
    partial: TRUE = Field(alias="_partial_", description="true (the parameters are passed in later)")
    lr: Positive   # the one parameter the harness itself sets (from the task); the others are the class's own
    # the schedules it makes sense with, by what they do to optimizer.lr (schedule.py: Rates); why not
    # the others, in the message (the rule: config.py)
    takes_rates: ClassVar[tuple[Rates, ...]] = ("constant", "relative", "absolute")
    takes_why: ClassVar[str] = ""


class Adam(OptimizerBase):
    betas: Betas
    weight_decay: NonNegative


class SGD(OptimizerBase):
    momentum: NonNegative
    weight_decay: NonNegative


class ScheduleFreeAdamW(OptimizerBase):
    betas: Betas
    weight_decay: NonNegative
    warmup_steps: NonNegativeInt
    takes_rates = ("constant",)
    takes_why = "it replaces the schedule (its averaging is the decay)"


class Prodigy(OptimizerBase):
    betas: Betas
    weight_decay: NonNegative
    d_coef: Positive
    # lr multiplies Prodigy's own step size: keeping or scaling it makes sense, setting rates does not
    takes_rates = ("constant", "relative")
    takes_why = "its lr is a multiplier of the step size it estimates, not a rate"


OPTIMIZERS = Registry("optimizer", "_target_", {"torch.optim.Adam": Adam, "torch.optim.SGD": SGD,
                                                "schedulefree.AdamWScheduleFree": ScheduleFreeAdamW,
                                                "prodigyopt.Prodigy": Prodigy},
                      base=OptimizerBase, supplied=("params",))
