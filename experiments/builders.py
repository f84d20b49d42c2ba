"""Tasks and models from their validated configs; optimizers and schedules with
``hydra.utils.instantiate`` from theirs.

An optimizer config (``configs/optimizer/*.yaml``) is a ``_partial_`` of a ``torch.optim`` class;
a schedule config (``configs/schedule/*.yaml``) a ``_partial_`` of a scheduler class or factory.
Both keep a ``name`` for run names and reports, which is not passed on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Iterable

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.optim import Optimizer

from .schedules import HARNESS_KEYS, EpochSchedule
from .schema.base import import_target
from .schema.model import Model
from .schema.task import TaskBase

if TYPE_CHECKING:
    from .tasks.base import Task, TaskContext


def build_task(task_cfg: TaskBase, ctx: "TaskContext") -> "Task":
    """The task class its schema names (imported only now: building a PINN does not import torchvision)."""
    module_name, class_name = task_cfg.runs.split(":")
    return getattr(importlib.import_module(module_name), class_name)(task_cfg, ctx)


def build_model(model_cfg: Model, **supplied: Any) -> nn.Module:
    """The class in the model config's ``_target_``, with the config's settings and what the task
    ``supplied`` (an image task: in_channels, num_classes)."""
    return import_target(model_cfg.target)(**model_cfg.model_dump(exclude={"name", "target"}), **supplied)


def _partial(cfg: DictConfig, drop: Iterable[str]) -> Any:
    """``instantiate`` on ``cfg`` without the harness's own keys; lists arrive as plain lists."""
    node = OmegaConf.to_container(cfg, resolve=True)
    for key in drop:
        node.pop(key, None)
    return instantiate(node, _convert_="all")


def build_optimizer(cfg: DictConfig, params: Iterable[torch.nn.Parameter]) -> Optimizer:
    return _partial(cfg, ("name",))(params)


def build_schedule(cfg: DictConfig, optimizer: Optimizer) -> EpochSchedule:
    return EpochSchedule(_partial(cfg, HARNESS_KEYS), optimizer, warmup_epochs=cfg.warmup_epochs,
                         warmup_start_factor=cfg.warmup_start_factor)
