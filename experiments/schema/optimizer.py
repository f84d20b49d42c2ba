"""configs/optimizer/*.yaml: ``_partial_`` configs of optimizer classes (torch.optim, schedulefree,
prodigyopt), one schema per class (picked by ``_target_``). The bounds are the classes' own, so the
optimizer never raises on a value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Optional

from pydantic import Field

from .base import Group, Registry
from .values import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, Check, choice, group_options, list_of, number, rule

if TYPE_CHECKING:
    from .config import Config

BETAS = list_of(number(ge=0, lt=1), length=2, what="two numbers in [0, 1)")


class OptimizerBase(Group):
    name: Annotated[str, choice(group_options("optimizer"))]
    partial: Annotated[Literal[True], Check("true (the parameters are passed in later)", lambda v: v is True)] = \
        Field(alias="_partial_")
    lr: Annotated[float, POSITIVE]
    weight_decay: Annotated[float, NON_NEGATIVE]
    # the schedules this optimizer makes sense with (None: any); why, in the message
    schedules: ClassVar[Optional[tuple[str, ...]]] = None
    schedules_why: ClassVar[str] = ""

    def check_with(self, cfg: "Config") -> None:
        if self.schedules is not None and cfg.schedule.name not in self.schedules:
            raise rule(f"optimizer={self.name} does not go with schedule={cfg.schedule.name}: {self.schedules_why}; "
                       f"use schedule={' or schedule='.join(self.schedules)}")


class Adam(OptimizerBase):
    target: Literal["torch.optim.Adam"] = Field(alias="_target_")
    betas: Annotated[list[float], BETAS]


class SGD(OptimizerBase):
    target: Literal["torch.optim.SGD"] = Field(alias="_target_")
    momentum: Annotated[float, NON_NEGATIVE]


class ScheduleFreeAdamW(OptimizerBase):
    target: Literal["schedulefree.AdamWScheduleFree"] = Field(alias="_target_")
    betas: Annotated[list[float], BETAS]
    warmup_steps: Annotated[int, NON_NEGATIVE_INT]
    schedules = ("static",)
    schedules_why = "it replaces the schedule (its averaging is the decay)"


class Prodigy(OptimizerBase):
    target: Literal["prodigyopt.Prodigy"] = Field(alias="_target_")
    betas: Annotated[list[float], BETAS]
    d_coef: Annotated[float, POSITIVE]
    # lr is a multiplier of Prodigy's own step size: schedules with absolute rate bounds make no sense
    schedules = ("static", "cosine", "step", "plateau")
    schedules_why = "its lr is a multiplier of the step size it estimates, not a rate"


OPTIMIZERS = Registry("optimizer", "_target_", {"torch.optim.Adam": Adam, "torch.optim.SGD": SGD,
                                                "schedulefree.AdamWScheduleFree": ScheduleFreeAdamW,
                                                "prodigyopt.Prodigy": Prodigy})
