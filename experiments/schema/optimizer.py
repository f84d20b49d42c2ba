"""configs/optimizer/*.yaml: ``_partial_`` configs of torch.optim classes, one schema per class
(picked by ``_target_``). The bounds are torch's own, so torch never raises on a value."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Group, Registry
from .values import NON_NEGATIVE, POSITIVE, Check, choice, group_options, list_of, number


class OptimizerBase(Group):
    name: Annotated[str, choice(group_options("optimizer"))]
    partial: Annotated[Literal[True], Check("true (the parameters are passed in later)", lambda v: v is True)] = \
        Field(alias="_partial_")
    lr: Annotated[float, POSITIVE]
    weight_decay: Annotated[float, NON_NEGATIVE]


class Adam(OptimizerBase):
    target: Literal["torch.optim.Adam"] = Field(alias="_target_")
    betas: Annotated[list[float], list_of(number(ge=0, lt=1), length=2, what="two numbers in [0, 1)")]


class SGD(OptimizerBase):
    target: Literal["torch.optim.SGD"] = Field(alias="_target_")
    momentum: Annotated[float, NON_NEGATIVE]


OPTIMIZERS = Registry("optimizer", "_target_", {"torch.optim.Adam": Adam, "torch.optim.SGD": SGD})
