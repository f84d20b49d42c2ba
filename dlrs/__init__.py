"""DLRS: a loss-driven dynamic learning-rate schedule for PyTorch (torch is the only dependency).

The schedulers are ``torch.optim.lr_scheduler.LRScheduler`` subclasses: ``observe(loss)`` per
batch, ``step()`` per epoch, and they work inside ``SequentialLR`` and ``ChainedScheduler``.
For PyTorch Lightning see :mod:`dlrs.integrations.lightning`.

>>> from dlrs import DLRS, Adacomp, Static, dlrs_lr, adacomp_lr
"""

from .rules import DLRSDecision, adacomp_lr, dlrs_decision, dlrs_lr
from .schedulers import DLRS, Adacomp, LossScheduler, Static

__all__ = ["DLRS", "Adacomp", "Static", "LossScheduler", "dlrs_lr", "dlrs_decision", "adacomp_lr", "DLRSDecision"]
__version__ = "0.2.0"
