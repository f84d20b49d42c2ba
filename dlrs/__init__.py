"""DLRS: a loss-driven dynamic learning-rate schedule for PyTorch (torch is the only dependency).

The schedulers are ``torch.optim.lr_scheduler.LRScheduler`` subclasses: ``observe(loss)`` per
batch, ``step()`` per epoch, and they work inside ``SequentialLR`` and ``ChainedScheduler``.
``DLRS(..., slope="lsq" | "epoch_mean")`` swaps the paper's slope for one a per-epoch reshuffle
does not dominate, and ``every=N`` decides every N losses in loops without epochs.
For PyTorch Lightning see :mod:`dlrs.integrations.lightning`.

>>> from dlrs import DLRS, Adacomp, Static, dlrs_lr, adacomp_lr
"""

from typing import TYPE_CHECKING, Any

from .rules import DLRSDecision, adacomp_lr, dlrs_decision, dlrs_lr, lsq_slope, mean_change_slope, window_slope

if TYPE_CHECKING:
    from .schedulers import DLRS, Adacomp, LossScheduler, Static

_SCHEDULERS = ("DLRS", "Adacomp", "Static", "LossScheduler")

__all__ = ["DLRS", "Adacomp", "Static", "LossScheduler", "dlrs_lr", "dlrs_decision", "adacomp_lr", "DLRSDecision",
           "window_slope", "lsq_slope", "mean_change_slope"]
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    """The schedulers, imported on first use: they import torch, and :mod:`dlrs.rules` (pure
    functions of floats, whose slope table the harness's config check reads) should not."""
    if name in _SCHEDULERS:
        from . import schedulers

        return getattr(schedulers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
