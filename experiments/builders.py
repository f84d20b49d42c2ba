"""Tasks by name; optimizers and schedules with ``hydra.utils.instantiate`` from their configs.

An optimizer config (``configs/optimizer/*.yaml``) is a ``_partial_`` of a ``torch.optim`` class;
a schedule config (``configs/schedule/*.yaml``) a ``_partial_`` of a scheduler class or factory.
Both keep a ``name`` for run names and reports, which is not passed on.
"""

from __future__ import annotations

import importlib
from typing import Any, Iterable

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.optim import Optimizer

from .schedules import HARNESS_KEYS, EpochSchedule
from .tasks.base import Task, TaskContext

# Imported lazily: building a PINN should not import torchvision.
TASKS = {
    "helmholtz": "experiments.tasks.helmholtz:Helmholtz",
    "mnist": "experiments.tasks.images:ImageClassification",
    "fashion_mnist": "experiments.tasks.images:ImageClassification",
    "cifar10": "experiments.tasks.images:ImageClassification",
}


def build_task(task_cfg: Any, ctx: TaskContext) -> Task:
    module_name, class_name = TASKS[task_cfg.name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(task_cfg, ctx)


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
