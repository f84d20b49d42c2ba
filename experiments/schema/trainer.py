"""configs/trainer/default.yaml: the loop's settings (experiments/trainer.py)."""

from __future__ import annotations

from typing import Annotated

from .base import Group
from .values import BOOL, NON_NEGATIVE_INT, POSITIVE_INT, choice, integer, matching

SEED_MAX = 2**63 - 1  # a signed 64-bit integer: torch and numpy generators, pandas columns in reports


class Trainer(Group):
    epochs: Annotated[int, POSITIVE_INT]
    device: Annotated[str, matching(r"auto|cpu|cuda(:\d+)?|mps", "auto, cpu, cuda, cuda:N, mps")]
    seed: Annotated[int, integer(ge=0, le=SEED_MAX)]
    precision: Annotated[str, choice(["fp32", "bf16"])]
    channels_last: Annotated[bool, BOOL]
    cudnn_benchmark: Annotated[bool, BOOL]
    checkpoint_every: Annotated[int, NON_NEGATIVE_INT]  # epochs; 0: only at the end
    resume: Annotated[bool, BOOL]
    force: Annotated[bool, BOOL]
    tensorboard: Annotated[bool, BOOL]                  # also log to <run_dir>/tensorboard
    progress: Annotated[str, choice(["auto", "bar", "log", "none"])]
