"""Optional TensorBoard logging (``trainer.tensorboard=true``): each metrics.csv row as scalars.

metrics.csv stays the source of truth; this mirrors it for people who read runs in TensorBoard
(``tensorboard --logdir results/runs``). Needs the ``tensorboard`` package (``pip install -e ".[tensorboard]"``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .errors import UserError

# DLRS's regimes as numbers, so TensorBoard can plot them: -1 convergent, 0 stagnant, 1 divergent
REGIME_CODES = {"convergent": -1.0, "stagnant": 0.0, "divergent": 1.0}
NOT_SCALARS = ("epoch", "dlrs_regime", "wall_time_s")


def require_tensorboard() -> None:
    """Fail with one line, before anything is written, if TensorBoard is not installed."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise UserError('trainer.tensorboard=true needs the tensorboard package: pip install -e ".[tensorboard]"'
                        ) from None


class TensorBoardLog:
    """Writes each epoch's row under ``<run_dir>/tensorboard`` with the epoch as the step.

    ``first_epoch``: the first epoch this process writes (after a resume, events from a killed
    process at or after it are purged, so no epoch appears twice).
    """

    def __init__(self, run_dir: Path, first_epoch: int = 1) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"), purge_step=first_epoch)

    def log(self, row: dict[str, Any]) -> None:
        step = int(row["epoch"])
        for key, value in row.items():
            if key not in NOT_SCALARS and isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(key, value, step)
        if row.get("dlrs_regime") in REGIME_CODES:
            self.writer.add_scalar("dlrs_regime", REGIME_CODES[row["dlrs_regime"]], step)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
