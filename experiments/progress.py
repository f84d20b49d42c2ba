"""Epoch progress: a tqdm bar on a terminal, a few plain lines in logs, or nothing.

A log line (from the first epoch on, then about twenty per run and the last)::

    epoch 1/1500 loss=2.31e+04 lr=0.005 rel_error=0.981 | 0.081 s/epoch, elapsed 0:00:00, ETA 0:02:01

``s/epoch`` is the mean over the epochs this process has run (evaluation included), ``elapsed`` the
time since this process started training, and ``ETA`` the time the remaining epochs will take at
that pace.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Optional

from tqdm import tqdm

LOG_LINES = 20  # about this many log lines per run, besides the first and the last epoch


def clock(seconds: float) -> str:
    """0:02:05 (h:mm:ss); '?' for an unknown duration."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class EpochProgress:
    """Shows loss, learning rate and the task metric after each epoch, with labelled times."""

    def __init__(self, total: int, initial: int, mode: str, metric: str, enabled: bool = True) -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "log"
        self.mode = mode if enabled else "none"
        self.total, self.metric, self.initial = total, metric, initial
        self.every = max(1, total // LOG_LINES)
        self.started = time.monotonic()
        self.done = 0  # epochs run by this process
        self.bar: Optional[tqdm] = None
        if self.mode == "bar":
            self.bar = tqdm(total=total, initial=initial, unit="epoch", dynamic_ncols=True,
                            bar_format="{desc}{percentage:3.0f}%|{bar}| epoch {n_fmt}/{total_fmt} "
                                       "[elapsed {elapsed}, ETA {remaining}, {rate_fmt}]{postfix}")

    def _fields(self, row: dict[str, Any]) -> dict[str, str]:
        metric = row.get(self.metric)
        return {"loss": f"{row['train_loss']:.4g}", "lr": f"{row['lr']:.3g}",
                self.metric: "-" if metric is None or (isinstance(metric, float) and math.isnan(metric)) else f"{metric:.4g}"}

    def times(self, epoch: int) -> str:
        """'0.081 s/epoch, elapsed 0:00:01, ETA 0:02:00' after ``epoch`` (1-based) is done."""
        elapsed = time.monotonic() - self.started
        per_epoch = elapsed / max(self.done, 1)
        return f"{per_epoch:.3g} s/epoch, elapsed {clock(elapsed)}, ETA {clock(per_epoch * (self.total - epoch))}"

    def line(self, row: dict[str, Any]) -> str:
        fields = " ".join(f"{k}={v}" for k, v in self._fields(row).items())
        return f"epoch {row['epoch']}/{self.total} {fields} | {self.times(row['epoch'])}"

    def update(self, row: dict[str, Any]) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix(self._fields(row), refresh=False)
            self.bar.update(1)
        elif self.mode == "log" and (self.done == 1 or row["epoch"] % self.every == 0 or row["epoch"] == self.total):
            print(self.line(row), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
