"""PyTorch Lightning: a callback that drives DLRS (or any loss scheduler) from a ``Trainer``.

Importing :mod:`dlrs` never imports Lightning; importing this module does (``lightning.pytorch``,
else the older ``pytorch_lightning``). Install it with ``pip install "dlrs-repro[lightning]"``.

Two ways work:

1. The callback owns the schedule (no change to the LightningModule)::

       trainer = Trainer(callbacks=[DLRSCallback(delta_i=0.1, max_lr=1.0)])

   After each training batch it observes the loss that ``training_step`` returned (the
   tensor, or ``outputs["loss"]``; no ``.item()``, no host sync), and at the end of each
   training epoch it calls ``step()``. It builds the scheduler on the trainer's optimizer at
   fit start, and its state (window, rate, epoch count) goes into Lightning checkpoints with
   the callback's, so ``trainer.fit(model, ckpt_path=...)`` resumes it. (With gradient
   accumulation Lightning hands over the loss divided by the number of accumulated batches;
   DLRS's slope does not change with the scale of the losses.)
   ``LossSchedulerCallback(lambda opt: ...)`` does the same for any scheduler built on the
   optimizer, e.g. ``SequentialLR`` with a warm-up and DLRS: every :class:`~dlrs.LossScheduler`
   inside it is observed, the outer scheduler is stepped.

2. ``configure_optimizers`` returns the scheduler with ``"interval": "epoch"`` (Lightning
   accepts it: it is an ``LRScheduler``), and ``training_step`` calls
   ``self.lr_schedulers().observe(loss)``. Lightning steps and checkpoints it. Do not add the
   callback as well (it refuses): Lightning steps epoch schedulers before the last batch's
   ``on_train_batch_end``, so a callback could not observe that batch in time.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import partial
from typing import Any, Callable, Optional

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ..rules import check_dlrs_params, check_slope_kind
from ..schedulers import DLRS, LossScheduler, _check_every

try:
    import lightning.pytorch as pl
except ImportError:  # pragma: no cover - depends on what is installed
    try:
        import pytorch_lightning as pl  # type: ignore[no-redef]
    except ImportError as exc:
        raise ImportError(
            "dlrs.integrations.lightning needs PyTorch Lightning: pip install 'dlrs-repro[lightning]'"
        ) from exc

__all__ = ["DLRSCallback", "LossSchedulerCallback", "loss_schedulers"]


def loss_schedulers(scheduler: Any) -> list[LossScheduler]:
    """The :class:`~dlrs.LossScheduler` objects in ``scheduler``, looking inside SequentialLR/ChainedScheduler."""
    if isinstance(scheduler, LossScheduler):
        return [scheduler]
    return [found for inner in getattr(scheduler, "_schedulers", ()) for found in loss_schedulers(inner)]


def _raw_optimizer(optimizer: Any) -> Optimizer:
    """Lightning may hand out its LightningOptimizer wrapper; schedulers need the torch optimizer."""
    return getattr(optimizer, "_optimizer", optimizer)


class LossSchedulerCallback(pl.Callback):
    """Observe the training loss after every batch and step the scheduler after every training epoch.

    Args:
        scheduler: builds the scheduler from the torch optimizer, e.g. ``lambda opt: DLRS(opt)``;
            called at fit start.
        optimizer_index: which of ``trainer.optimizers`` it schedules.
        loss_key: where the loss is when ``training_step`` returns a dict.
    """

    def __init__(
        self, scheduler: Callable[[Optimizer], LRScheduler], *, optimizer_index: int = 0, loss_key: str = "loss"
    ) -> None:
        super().__init__()
        self._build = scheduler
        self.optimizer_index, self.loss_key = optimizer_index, loss_key
        self.scheduler: Optional[LRScheduler] = None
        self._observers: list[LossScheduler] = []
        self._pending_state: Optional[dict[str, Any]] = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        registered = [s for config in trainer.lr_scheduler_configs for s in loss_schedulers(config.scheduler)]
        if registered:
            raise RuntimeError(
                f"{type(self).__name__}: configure_optimizers already returns {type(registered[0]).__name__}. Either let "
                "the callback build the scheduler (return only the optimizer), or keep it in configure_optimizers, "
                "call self.lr_schedulers().observe(loss) in training_step and drop the callback."
            )
        self.scheduler = self._build(_raw_optimizer(trainer.optimizers[self.optimizer_index]))
        self._observers = loss_schedulers(self.scheduler)
        if not self._observers:
            raise TypeError(f"{type(self).__name__}: {type(self.scheduler).__name__} holds no dlrs.LossScheduler")
        if self._pending_state is not None:  # a checkpoint was loaded before the optimizer existed
            self.scheduler.load_state_dict(self._pending_state)
            self._pending_state = None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get(self.loss_key) if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, (torch.Tensor, float, int)):  # None: the batch was skipped
            for observer in self._observers:
                observer.observe(loss)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.scheduler is not None:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        if self.scheduler is None:
            return {} if self._pending_state is None else {"scheduler": self._pending_state}
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = state_dict.get("scheduler")
        if state is not None and self.scheduler is not None:
            self.scheduler.load_state_dict(state)
        else:
            self._pending_state = state


class DLRSCallback(LossSchedulerCallback):
    """:class:`LossSchedulerCallback` with :class:`~dlrs.DLRS`; takes DLRS's keyword arguments.

    ``callback.scheduler`` is the DLRS object once fitting has started (``last_slope``,
    ``last_regime``, ``get_last_lr()``).
    """

    def __init__(self, *, optimizer_index: int = 0, loss_key: str = "loss", **dlrs_kwargs: Any) -> None:
        # Bad arguments fail here, not when fitting starts.
        bound = inspect.signature(DLRS).bind(None, **dlrs_kwargs)
        bound.apply_defaults()
        check_dlrs_params(*(bound.arguments[k] for k in ("delta_d", "delta_o", "delta_i", "min_lr", "max_lr")))
        _check_every(bound.arguments["every"], check_slope_kind(bound.arguments["slope"]))
        super().__init__(partial(DLRS, **dlrs_kwargs), optimizer_index=optimizer_index, loss_key=loss_key)
