"""``paths:`` in configs/config.yaml: where results and data live."""

from __future__ import annotations

from typing import Annotated

from .base import Group
from .values import PATH


class Paths(Group):
    results: Annotated[str, PATH]
    runs: Annotated[str, PATH]      # run directories: <runs>/<experiment_name>/<run_name>/
    data: Annotated[str, PATH]      # datasets (torchvision's layout)
