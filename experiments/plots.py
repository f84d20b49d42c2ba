"""The per-run figure: training loss, learning rate and the task metric against epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_run_curves(rows: Sequence[dict[str, Any]], metric: str, path: Path) -> Path:
    """Three panels (train loss, lr, metric) for one run; returns the PNG path."""
    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, key, log_scale in zip(axes, ("train_loss", "lr", metric), (True, True, metric != "test_acc")):
        ax.plot(epochs, [r.get(key, float("nan")) for r in rows])
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.16, top=0.95, wspace=0.3)  # tight_layout costs ~1 s
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
