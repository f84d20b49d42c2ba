"""configs/config.yaml's top level: the groups, the trainer's and paths' keys, the run's names, and
the rules between groups, all of them here (this module imports every group; no group imports it)."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Optional

from omegaconf import DictConfig, OmegaConf
from pydantic import AfterValidator, Field, PrivateAttr, create_model, model_validator

from ..numerics import NUMERICS
from ..report_layouts import LAYOUTS
from .base import CONFIG_DIR, PATH, Group, NonNegativeInt, PositiveInt, group_options, name, rule
from .model import MODELS, Model
from .optimizer import OPTIMIZERS, OptimizerBase
from .schedule import RATES_IN_WORDS, SCHEDULES, ScheduleBase, fitting_schedules
from .task import TASKS, TaskBase

SEED_MAX = 2**63 - 1  # a signed 64-bit integer: torch and numpy generators, pandas columns in reports


class Trainer(Group):
    """configs/trainer/default.yaml: the loop's settings (experiments/trainer.py)."""

    epochs: PositiveInt
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$", description="auto, cpu, cuda, cuda:N, mps")]
    seed: Annotated[int, Field(ge=0, le=SEED_MAX)]
    precision: Literal["fp32", "bf16"]
    channels_last: bool
    cudnn_benchmark: bool
    checkpoint_every: NonNegativeInt                    # epochs; 0: only at the end
    resume: bool
    force: bool
    tensorboard: bool                                   # also log to <run_dir>/tensorboard
    progress: Literal["auto", "bar", "log", "none"]
    threads: Optional[PositiveInt]                      # torch's intra-op threads; null: torch's default
    numerics: Literal[NUMERICS]                         # pinned | native (experiments/numerics.py)


class Paths(Group):
    """``paths:`` in configs/config.yaml: where results and data live."""

    results: PATH
    runs: PATH      # run directories: <runs>/<experiment_name>/<run_name>/
    data: PATH      # datasets (torchvision's layout)


# The groups whose schema depends on the config (by name or _target_), and those with one schema.
REGISTRIES = {r.group: r for r in (TASKS, MODELS, OPTIMIZERS, SCHEDULES)}


def _known_layout(layout: Optional[str]) -> Optional[str]:
    # read when validating, not at import: the layouts are experiments/report_layouts.py's entries
    if layout is not None and layout not in LAYOUTS:
        raise rule(f"report.layout={layout!r} is not known; choose one of: {', '.join(LAYOUTS)}, or null")
    return layout


class Report(Group):
    """``report:``: how experiments/report draws a preset's experiment (set by presets only)."""

    layout: Annotated[Optional[str], AfterValidator(_known_layout),
                      Field(description="a layout of experiments/report_layouts.py, or null")]
    references: Annotated[list[name()], Field(min_length=1, description="a list of one or more schedule or "
                                                "optimizer names, e.g. [dlrs] or [dlrs_epoch_mean, dlrs]")]


FIXED = {"trainer": Trainer, "paths": Paths, "report": Report}


class Config(Group):
    """The whole config; ``for_data`` gives the one with each group's picked schema."""

    # Checked in this order, and the first problem is the one reported: a key comes before the keys
    # that read it through ${...} (paths.runs -> run_dir, task.min_lr -> schedule.min_lr, ...), so
    # a bad value is reported where it was set.
    paths: Paths
    task: TaskBase
    trainer: Trainer
    model: Model
    optimizer: OptimizerBase
    schedule: ScheduleBase
    experiment_name: name()
    run_name: name()            # one directory name (at most 255 bytes)
    run_dir: PATH               # ${paths.runs}/${experiment_name}/${run_name}
    report: Report
    _record: Any = PrivateAttr(None)

    @property
    def record(self) -> DictConfig:
        """The resolved config this was validated from, as written: what the run directory records
        (config.yaml, summary.json, the run's identity) and what the optimizer and schedule classes
        get (their keys as the config gives them, no schema defaults added). Read-only."""
        return self._record

    def recording(self, data: dict[str, Any]) -> "Config":
        """This config, keeping ``data`` (the plain, resolved config it was validated from) as ``record``."""
        self._record = OmegaConf.create(data, flags={"readonly": True})
        return self

    @model_validator(mode="after")
    def _groups_agree(self) -> "Config":
        for check in (_model_fits_task, _optimizer_goes_with_schedule, _schedule_fits_run):
            check(self)
        return self

    @classmethod
    def for_data(cls, data: dict) -> type["Config"]:
        """This schema with each group's field typed by the schema its node picks (SchemaError if none)."""
        return _with_groups(tuple((g, r.pick(data[g])) for g, r in REGISTRIES.items() if g in data))


@functools.lru_cache(maxsize=None)
def _with_groups(groups: tuple[tuple[str, type[Group]], ...]) -> type[Config]:
    return create_model("Config", __base__=Config, **{group: (schema, ...) for group, schema in groups})


# ---- the rules between groups (each raises ``rule(...)``, the whole message) ----------------------
def _model_fits_task(cfg: Config) -> None:
    model, task = cfg.model, cfg.task
    if task.gives not in model.takes:
        raise rule(f"model={model.name} does not fit task={task.name}: model={model.name} takes "
                   f"{' or '.join(model.takes)}, task={task.name} gives {task.gives}; the models that take "
                   f"{task.gives}: {', '.join(fitting_models(task.gives))}")


def _optimizer_goes_with_schedule(cfg: Config) -> None:
    optimizer, schedule = cfg.optimizer, cfg.schedule
    if schedule.rates not in optimizer.takes_rates:
        raise rule(f"optimizer={optimizer.name} does not go with schedule={schedule.name}: {optimizer.takes_why}, "
                   f"and schedule={schedule.name} {RATES_IN_WORDS[schedule.rates]}; "
                   f"use schedule={' or schedule='.join(fitting_schedules(optimizer.takes_rates))}")


def _schedule_fits_run(cfg: Config) -> None:
    """The warm-up ends before the run does; a rate the schedule goes down to is at most the initial
    rate; a replayed run holds a rate for every epoch."""
    schedule, epochs, lr = cfg.schedule, cfg.trainer.epochs, cfg.optimizer.lr
    if schedule.warmup_epochs >= epochs:
        raise rule(f"schedule.warmup_epochs must be an integer in [0, trainer.epochs={epochs}), "
                   f"got {schedule.warmup_epochs!r}")
    key, why = schedule.floor
    value = getattr(schedule, key, None) if key else None
    if value is not None and value > lr:
        raise rule(f"schedule.{key} ({value:g}) is above the initial rate optimizer.lr ({lr:g}){why}")
    rates = schedule.epochs_of_rates
    if rates is not None and rates < epochs:
        raise rule(f"schedule.metrics_csv={getattr(schedule, 'metrics_csv', '')} has {rates} epochs of rates, fewer "
                   f"than trainer.epochs={epochs}; replay a longer run or set trainer.epochs={rates}")


def fitting_models(gives: str) -> list[str]:
    """The options of configs/model/ whose model takes what a task ``gives``."""
    nodes = {option: OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "model" / f"{option}.yaml"))
             for option in group_options("model")}
    return [option for option, node in nodes.items() if gives in getattr(MODELS.schema_for(node), "takes", ())]
