"""Name -> object registries for the config groups: tasks, optimizers and schedules."""

from __future__ import annotations

import importlib
from typing import Any, Iterable

import torch
from torch.optim import Optimizer

from dlrs import DLRS, Adacomp, LossScheduler, Static

from .tasks.base import Task, TaskContext

# Imported lazily: building a PINN should not import torchvision.
TASKS = {
    "helmholtz": "experiments.tasks.helmholtz:Helmholtz",
    "mnist": "experiments.tasks.images:ImageClassification",
    "cifar10": "experiments.tasks.images:ImageClassification",
}
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("static", "dlrs", "adacomp")


def build_task(task_cfg: Any, ctx: TaskContext) -> Task:
    module_name, class_name = TASKS[task_cfg.name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(task_cfg, ctx)


def build_optimizer(cfg: Any, params: Iterable[torch.nn.Parameter]) -> Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def build_schedule(cfg: Any, optimizer: Optimizer) -> LossScheduler:
    if cfg.name == "static":
        return Static(optimizer)
    if cfg.name == "dlrs":
        return DLRS(optimizer, delta_d=cfg.delta_d, delta_o=cfg.delta_o, delta_i=cfg.delta_i,
                    min_lr=cfg.min_lr, max_lr=cfg.max_lr)
    if cfg.name == "adacomp":
        return Adacomp(optimizer, window=cfg.window, eps=cfg.eps)
    raise ValueError(f"unknown schedule {cfg.name!r}")
