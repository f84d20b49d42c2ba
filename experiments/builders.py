"""A run's components from its validated ``Config``: the task and the model from their schemas, the
optimizer and the schedule with ``hydra.utils.instantiate`` from their resolved configs.

An optimizer config (``configs/optimizer/*.yaml``) is a ``_partial_`` of a ``torch.optim`` class;
a schedule config (``configs/schedule/*.yaml``) a ``_partial_`` of a scheduler class or factory.
Both keep a ``name`` for run names and reports, which is not passed on.

The schema checks what it knows about a class; the class may still refuse a value (a scheduler
class without a schema of its own, ``T_0=0``). Such a refusal is the user's to fix: ``rejected_by``
turns it into one line naming the key, ``schedule.T_0=0: <the class's message>``. The trainer builds
every component before it makes the run directory, so nothing is written first.
"""

from __future__ import annotations

import contextlib
import importlib
import linecache
import re
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn
from torch.optim import Optimizer

from .errors import UserError
from .schedules import HARNESS_KEYS, EpochSchedule
from .schema import Config
from .schema.base import import_target
from .schema.model import Model
from .schema.task import TaskBase

if TYPE_CHECKING:
    from .tasks.base import Task, TaskContext

HARNESS = Path(__file__).resolve().parent  # experiments/: the frames of its own code name no setting


def build_task(task_cfg: TaskBase, ctx: "TaskContext") -> "Task":
    """The task class its schema names (imported only now: building a PINN does not import torchvision)."""
    module_name, class_name = task_cfg.runs.split(":")
    return getattr(importlib.import_module(module_name), class_name)(task_cfg, ctx)


def build_model(model_cfg: Model, **supplied: Any) -> nn.Module:
    """The class in the model config's ``_target_``, with the config's settings and what the task
    ``supplied`` (an image task: in_channels, num_classes)."""
    settings = model_cfg.model_dump(exclude={"name", "target"})
    with rejected_by("model", settings):
        return import_target(model_cfg.target)(**settings, **supplied)


def build_optimizer(config: Config, params: Iterable[torch.nn.Parameter]) -> Optimizer:
    settings = _settings(config, "optimizer", ("name",))
    with rejected_by("optimizer", settings):
        return instantiate(settings, _convert_="all")(params)


def build_schedule(config: Config, optimizer: Optimizer) -> EpochSchedule:
    settings = _settings(config, "schedule", HARNESS_KEYS)
    warmup = config.schedule.warmup_epochs
    with rejected_by("schedule", settings):
        make = instantiate(settings, _convert_="all")
        if warmup:
            # the class is built when the warm-up ends: try its settings now, on a stand-in optimizer
            # (building one changes the optimizer's rates), so a value it refuses fails before the run starts
            make(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=optimizer.param_groups[0]["lr"]))
        return EpochSchedule(make, optimizer, warmup_epochs=warmup,
                             warmup_start_factor=config.schedule.warmup_start_factor)


def _settings(config: Config, group: str, drop: Iterable[str]) -> dict[str, Any]:
    """The group's resolved config without the harness's own keys; lists arrive as plain lists."""
    node = OmegaConf.to_container(config.record[group])
    return {key: value for key, value in node.items() if key not in drop}


@contextlib.contextmanager
def rejected_by(group: str, settings: dict[str, Any]) -> Iterator[None]:
    """A ValueError or TypeError that a component class raises about one of its ``settings``, as a
    UserError: ``group.key=value: the class's message``. The key is the setting that the message
    names, or else the one that the line which raised it names (``if T_0 <= 0 ...``). A failure
    that names no setting is not the user's: it keeps its traceback."""
    try:
        yield
    except (ValueError, TypeError) as e:
        key = _named_setting(e, [k for k in settings if not k.startswith("_")])
        if key is None:
            raise
        value = settings[key]
        message = " ".join(str(e).split()) or type(e).__name__
        raise UserError(f"{group}.{key}={value if isinstance(value, str) else repr(value)}: {message}") from None


def _named_setting(e: BaseException, keys: list[str]) -> Optional[str]:
    def named(text: str) -> Optional[str]:
        return next((k for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?!\w)", text)), None)

    def statement(frame: traceback.FrameSummary) -> str:  # all its lines: raise ValueError(\n f"... {p}")
        lines = range(frame.lineno or 0, (getattr(frame, "end_lineno", None) or frame.lineno or 0) + 1)
        return "".join(linecache.getline(frame.filename, n) for n in lines)

    found = named(str(e))
    frames = [f for f in traceback.extract_tb(e.__traceback__) if HARNESS not in Path(f.filename).resolve().parents]
    for frame in reversed(frames):  # the innermost first: the class's own check
        found = found or named(statement(frame))
    return found
