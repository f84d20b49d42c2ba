"""Epoch progress: a tqdm bar on a terminal, a few plain lines in logs, or nothing."""

from __future__ import annotations

import math
import sys
from typing import Any, Optional

from tqdm import tqdm


class EpochProgress:
    """Shows loss, learning rate and the task metric after each epoch."""

    def __init__(self, total: int, initial: int, mode: str, metric: str, enabled: bool = True) -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        self.mode = mode if enabled else "none"
        self.total, self.metric = total, metric
        self.every = max(1, total // 20)  # about twenty log lines per run
        self.bar: Optional[tqdm] = None
        if self.mode == "bar":
            self.bar = tqdm(total=total, initial=initial, unit="epoch", dynamic_ncols=True)

    def _fields(self, row: dict[str, Any]) -> dict[str, str]:
        metric = row.get(self.metric)
        return {"loss": f"{row['train_loss']:.4g}", "lr": f"{row['lr']:.3g}",
                self.metric: "-" if metric is None or (isinstance(metric, float) and math.isnan(metric)) else f"{metric:.4g}"}

    def update(self, row: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(self._fields(row), refresh=False)
            self.bar.update(1)
        elif self.mode == "log" and (row["epoch"] % self.every == 0 or row["epoch"] == self.total):
            fields = " ".join(f"{k}={v}" for k, v in self._fields(row).items())
            print(f"epoch {row['epoch']}/{self.total} {fields} ({row['epoch_time_s']:.2f}s)", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
