"""configs/task/*.yaml: one schema per task, picked by ``task.name``. Each names the class that
runs it (``runs``) and what it feeds a model (``gives``: the models say what they take)."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, Optional

from pydantic import Field, model_validator

from .base import Finite, Group, Positive, PositiveInt, Registry, name, rule


class TaskBase(Group):
    """Keys every task has."""

    runs: ClassVar[str]    # the experiments.tasks class, as module:Class
    gives: ClassVar[str]   # what its batches hold, in the words of the models' ``takes``
    name: str
    tag: name(64)                                       # label in run names, e.g. f1000, bs128
    batch_size: PositiveInt
    subset: Optional[PositiveInt]
    # the task's rate bounds, read by the schedules through ${task.min_lr} / ${task.max_lr}
    min_lr: Positive
    max_lr: Positive


class Helmholtz(TaskBase):
    runs = "experiments.tasks.helmholtz:Helmholtz"
    gives = "points x in [0, 1]"
    name: Literal["helmholtz"]
    frequency: Positive                                 # Hz
    speed_of_sound: Positive                            # m/s
    p0: Finite
    p1: Finite
    n_points: Annotated[int, Field(ge=1, le=10**8)]     # allocated at once
    shuffle: bool
    eval_points: Annotated[int, Field(ge=2, le=10**7)]
    derivatives: Literal["forward", "autograd"]
    # +scale=smoke sets it for every task; the PINN evaluates on its eval_points grid and ignores it
    test_subset: Optional[PositiveInt] = None

    @model_validator(mode="after")
    def _exact_solution_exists(self) -> "Helmholtz":
        f, c = self.frequency, self.speed_of_sound
        k = 2 * math.pi * f / c
        if not math.isfinite(k * k):  # the residual has k**2
            raise rule(f"task.frequency={f:g} with task.speed_of_sound={c:g} gives a wavenumber k = 2*pi*f/c whose "
                       "square is infinite; lower the frequency or raise the speed of sound")
        if abs(math.sin(k)) < 1e-6:
            raise rule(f"task.frequency={f:g} is a multiple of c/2 = {c / 2:g} Hz (task.speed_of_sound={c:g}), where "
                       "the exact solution is undefined (sin k = 0); pick another frequency")
        return self


def _channels(count: int, why: str) -> type[int]:
    return Annotated[int, Field(ge=count, le=count, description=f"{count} ({why})")]  # type: ignore[return-value]


class ImageTask(TaskBase):
    """MNIST, Fashion-MNIST and CIFAR-10 (experiments/tasks/images.py); the model gets in_channels
    and num_classes from here."""

    runs = "experiments.tasks.images:ImageClassification"
    gives = "28x28 images"
    download: bool
    test_batch_size: PositiveInt
    test_subset: Optional[PositiveInt]
    loader: Literal["memory", "torchvision"]
    num_workers: Annotated[int, Field(ge=0, le=256)]    # DataLoader workers (loader=torchvision)
    augment: bool
    num_classes: Annotated[int, Field(ge=10, le=100_000)]


class MNIST(ImageTask):
    name: Literal["mnist"]
    in_channels: _channels(1, "MNIST images are grey")


class FashionMNIST(ImageTask):
    name: Literal["fashion_mnist"]
    in_channels: _channels(1, "Fashion-MNIST images are grey")


class CIFAR10(ImageTask):
    gives = "32x32 images"
    name: Literal["cifar10"]
    in_channels: _channels(3, "CIFAR-10 images are RGB")


TASKS = Registry("task", "name", {"helmholtz": Helmholtz, "mnist": MNIST, "fashion_mnist": FashionMNIST,
                                  "cifar10": CIFAR10})
