"""configs/task/*.yaml: one schema per task (helmholtz, mnist, fashion_mnist, cifar10), picked by ``task.name``."""

from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

from pydantic import model_validator

from .base import Group, Registry
from .values import (BOOL, FINITE, POSITIVE, POSITIVE_INT, Check, choice, integer, is_integer,
                     name, rule)


class TaskBase(Group):
    """Keys every task has."""

    name: str
    tag: Annotated[str, name(64)]                       # label in run names, e.g. f1000, bs128
    batch_size: Annotated[int, POSITIVE_INT]
    subset: Annotated[Optional[int], POSITIVE_INT.or_null()]
    # the task's rate bounds, read by the schedules through ${task.min_lr} / ${task.max_lr}
    min_lr: Annotated[float, POSITIVE]
    max_lr: Annotated[float, POSITIVE]


class Helmholtz(TaskBase):
    name: Annotated[Literal["helmholtz"], choice(["helmholtz"])]
    frequency: Annotated[float, POSITIVE]               # Hz
    speed_of_sound: Annotated[float, POSITIVE]          # m/s
    p0: Annotated[float, FINITE]
    p1: Annotated[float, FINITE]
    n_points: Annotated[int, integer(ge=1, le=10**8)]   # allocated at once
    shuffle: Annotated[bool, BOOL]
    eval_points: Annotated[int, integer(ge=2, le=10**7)]
    derivatives: Annotated[str, choice(["forward", "autograd"])]
    # +scale=smoke sets it for every task; the PINN evaluates on its eval_points grid and ignores it
    test_subset: Annotated[Optional[int], POSITIVE_INT.or_null()] = None

    @model_validator(mode="after")
    def _exact_solution_exists(self) -> "Helmholtz":
        f, c = self.frequency, self.speed_of_sound
        k = 2 * math.pi * f / c
        if not math.isfinite(k):
            raise rule(f"task.frequency={f:g} with task.speed_of_sound={c:g} gives an infinite wavenumber "
                       "k = 2*pi*f/c; lower the frequency or raise the speed of sound")
        if abs(math.sin(k)) < 1e-6:
            raise rule(f"task.frequency={f:g} is a multiple of c/2 = {c / 2:g} Hz (task.speed_of_sound={c:g}), where "
                       "the exact solution is undefined (sin k = 0); pick another frequency")
        return self


def _channels(count: int, what: str) -> Check:
    return Check(f"{count} ({what})", lambda v: is_integer(v) and v == count)


class ImageTask(TaskBase):
    """MNIST, Fashion-MNIST and CIFAR-10 (experiments/tasks/images.py)."""

    download: Annotated[bool, BOOL]
    test_batch_size: Annotated[int, POSITIVE_INT]
    test_subset: Annotated[Optional[int], POSITIVE_INT.or_null()]
    loader: Annotated[str, choice(["memory", "torchvision"])]
    num_workers: Annotated[int, integer(ge=0, le=256)]  # DataLoader workers (loader=torchvision)
    augment: Annotated[bool, BOOL]
    num_classes: Annotated[int, integer(ge=10, le=100_000)]


class MNIST(ImageTask):
    name: Annotated[Literal["mnist"], choice(["mnist"])]
    in_channels: Annotated[int, _channels(1, "MNIST images are grey")]


class FashionMNIST(ImageTask):
    name: Annotated[Literal["fashion_mnist"], choice(["fashion_mnist"])]
    in_channels: Annotated[int, _channels(1, "Fashion-MNIST images are grey")]


class CIFAR10(ImageTask):
    name: Annotated[Literal["cifar10"], choice(["cifar10"])]
    in_channels: Annotated[int, _channels(3, "CIFAR-10 images are RGB")]


TASKS = Registry("task", "name", {"helmholtz": Helmholtz, "mnist": MNIST, "fashion_mnist": FashionMNIST,
                                  "cifar10": CIFAR10})
