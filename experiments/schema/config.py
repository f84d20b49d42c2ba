"""configs/config.yaml's top level: the groups, the run's names, and the rules between groups."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import model_validator

from .base import Group
from .model import MODELS
from .optimizer import OPTIMIZERS
from .paths import Paths
from .schedule import SCHEDULES
from .task import TASKS
from .trainer import Trainer
from .values import PATH, choice, name

# The groups whose schema depends on the config (by name or _target_), and those with one schema.
REGISTRIES = {r.group: r for r in (TASKS, MODELS, OPTIMIZERS, SCHEDULES)}
LAYOUTS = ("pinn", "ablation", "batch", "rate", "arch", "lr")  # experiments/report: a table and figure for each


class Report(Group):
    layout: Annotated[Optional[str], choice(LAYOUTS).or_null()]   # set by presets only


FIXED = {"trainer": Trainer, "paths": Paths, "report": Report}


class Config(Group):
    # Checked in this order, and the first problem is the one reported: a key comes before the keys
    # that read it through ${...} (paths.data -> task.data_root, task.lr -> optimizer.lr, ...), so
    # a bad value is reported where it was set.
    paths: Paths
    task: TASKS.annotation()
    trainer: Trainer
    model: MODELS.annotation()
    optimizer: OPTIMIZERS.annotation()
    schedule: SCHEDULES.annotation()
    experiment_name: Annotated[str, name()]
    run_name: Annotated[str, name()]            # one directory name (at most 255 bytes)
    run_dir: Annotated[str, PATH]               # ${paths.runs}/${experiment_name}/${run_name}
    report: Report

    @model_validator(mode="after")
    def _groups_agree(self) -> "Config":
        for group in (self.model, self.task, self.optimizer, self.schedule, self.trainer, self.paths):
            group.check_with(self)
        return self
