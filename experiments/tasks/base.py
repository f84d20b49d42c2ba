"""What the trainer needs from a task. A task owns its data and its metric; the trainer owns
the loop, the optimizer, the schedule, checkpoints and result files."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from ..schema.model import Model
from ..schema.task import TaskBase


@dataclass(frozen=True)
class TaskContext:
    """Where and how a task runs: device, seed, this process's shard under DDP, and where the
    datasets are (the config's ``paths.data``; the image tasks read it)."""

    device: torch.device
    seed: int
    rank: int = 0
    world_size: int = 1
    channels_last: bool = False
    data_root: str | None = None


class Task(ABC):
    """A training problem: data, model construction, loss and evaluation.

    ``train_batches(epoch)`` must be a pure function of (seed, epoch, rank): the same epoch
    yields the same batches after a resume. Batches are already on ``ctx.device``.
    """

    #: name of the headline metric in ``evaluate()``'s result
    metric: str
    #: True for accuracy, False for errors
    higher_is_better: bool
    #: False where bf16 autocast would ruin the maths (PINN second derivatives)
    supports_autocast: bool = True

    def __init__(self, cfg: TaskBase, ctx: TaskContext) -> None:
        self.cfg = cfg  # validated by experiments.schema: the task checks nothing again
        self.ctx = ctx

    @abstractmethod
    def build_model(self, model_cfg: Model) -> nn.Module:
        """The network for this task, on ``ctx.device``."""

    @abstractmethod
    def train_batches(self, epoch: int) -> Iterator[Any]:
        """This rank's training batches for ``epoch`` (0-based), in order."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        """Scalar training loss of ``model`` on ``batch`` (autograd-connected)."""

    @abstractmethod
    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Held-out metrics; must contain ``self.metric``. Called on rank 0 only."""

    def save_artifacts(self, model: nn.Module, run_dir: Path) -> list[Path]:
        """Task-specific outputs written once at the end of a run (e.g. a field plot)."""
        return []
