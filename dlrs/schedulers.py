"""Loss-driven learning-rate schedulers with one protocol: ``observe(loss)`` per batch,
``step()`` at the end of each epoch.

They are :class:`torch.optim.lr_scheduler.LRScheduler` subclasses, so they also go wherever
torch schedulers go: ``SequentialLR`` (e.g. a linear warm-up, then DLRS), ``ChainedScheduler``,
Lightning's ``configure_optimizers``. They change only ``param_group["lr"]``; the optimizer
keeps its state (Adam moments). Constructing one never changes the rate.
"""

from __future__ import annotations

import inspect
import logging
import math
import numbers
import os
import warnings
from typing import Any, Optional, Sequence, Union

import torch
import torch.distributed as dist
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from .rules import (FIRST_WINDOW, SLOPES, Regime, adacomp_lr, apply_dlrs_slope, check_dlrs_params, check_lr,
                    check_slope_kind)

logger = logging.getLogger("dlrs")
# frames of this package and of torch.optim (LRScheduler.step calls back into it): a warning names the
# user's line, the first frame outside them
_INTERNAL = (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.abspath(torch.optim.__file__)))


def _warn_at_caller(message: str) -> None:
    frame, level = inspect.currentframe(), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


Loss = Union[float, torch.Tensor]
Rate = Union[float, torch.Tensor]


def _detached_scalar(loss: Loss) -> Loss:
    """A loss as a 0-d tensor cut from the graph (left on its device) or a float; never reads the device."""
    if isinstance(loss, torch.Tensor):
        if loss.dim() != 0:
            if loss.numel() != 1:
                raise ValueError(f"observe() takes a scalar loss, got a tensor of shape {tuple(loss.shape)}")
            loss = loss.reshape(())
        return loss.detach() if loss.requires_grad else loss
    return float(loss)


def _read_losses(window: Sequence[Loss], reduce_over_ranks: bool) -> list[float]:
    """Read a window of losses to the host: one stack, one transfer (and one collective if asked)."""
    if not window:
        return []
    tensors = [x for x in window if isinstance(x, torch.Tensor)]
    if not tensors and not reduce_over_ranks:
        return [float(x) for x in window]
    device = tensors[0].device if tensors else torch.device("cpu")
    # MPS has no float64; its losses are float32 at most, which float32 holds exactly.
    dtype = torch.float32 if device.type == "mps" else torch.float64
    if len(tensors) == len(window):
        stacked = torch.stack(tensors).to(dtype)  # torch.stack promotes mixed dtypes exactly
    else:  # floats and tensors mixed: the floats in one tensor, the tensors scattered into it
        stacked = torch.tensor([0.0 if isinstance(x, torch.Tensor) else x for x in window], dtype=dtype, device=device)
        if tensors:
            where = [i for i, x in enumerate(window) if isinstance(x, torch.Tensor)]
            stacked[torch.tensor(where, device=device)] = torch.stack(tensors).to(dtype)
    if reduce_over_ranks:
        if dist.get_backend() == "nccl" and stacked.device.type != "cuda":
            stacked = stacked.cuda()
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        stacked /= dist.get_world_size()
    return stacked.cpu().tolist()


def _is_one_loss(value: object) -> bool:
    """A single number (a float, a bool, a 0-d tensor or array) where step() expects a list of losses.
    step() asks after taking an int as torch's ``step(epoch)``."""
    return isinstance(value, numbers.Real) or getattr(value, "ndim", None) == 0


def _short(value: object) -> str:
    """A loss for an error message: the float for a CPU tensor, a description for one on a device."""
    if isinstance(value, torch.Tensor):
        return f"a 0-d tensor on {value.device}" if value.device.type != "cpu" else f"tensor {value.item():g}"
    return repr(value)


def _average_over_ranks(distributed: Optional[bool]) -> bool:
    """``distributed`` if given, else whether a torch.distributed group of more than one rank is up."""
    if distributed is None:
        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    return distributed


def _check_optimizer(scheduler: object, optimizer: object) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(scheduler).__name__} needs a torch.optim.Optimizer, got {type(optimizer).__name__}")


def _check_group_lrs(optimizer: Optimizer) -> None:
    """Fail at construction, not after the first epoch, on a rate the rules cannot use."""
    for i, group in enumerate(optimizer.param_groups):
        check_lr(group["lr"], f"param_groups[{i}]['lr']")


def _group_lrs(optimizer: Optimizer) -> list[Rate]:
    """Each group's rate; tensor rates are copied, so the list never aliases the optimizer."""
    return [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"] for g in optimizer.param_groups]


class LossScheduler(LRScheduler):
    """Base class: an :class:`~torch.optim.lr_scheduler.LRScheduler` fed with batch losses.

    ``observe(loss)`` per batch, ``step()`` at the end of each epoch (``last_epoch`` counts the
    steps). By itself it never changes the rate. Subclasses implement :meth:`_next_lrs` (the
    rates after an epoch) and may override :meth:`_restart`.

    Inside ``SequentialLR`` a scheduler waits for its milestone with ``last_epoch == -1``; while
    it waits, ``observe()`` ignores losses, and at the milestone it starts from the rate the
    previous scheduler left (it never resets the rate to ``initial_lr``).
    """

    def __init__(self, optimizer: Optimizer) -> None:
        _check_optimizer(self, optimizer)
        self._starting = False
        self._explicit_losses: Optional[list[float]] = None
        super().__init__(optimizer)  # records initial_lr and takes the initial step (rate unchanged)

    # --- the per-batch and per-epoch calls ------------------------------------------------------

    def observe(self, loss: Loss) -> None:
        """Record one batch loss (a float or a scalar tensor on any device)."""

    def step(self, losses: Optional[Sequence[float]] = None, epoch: Optional[int] = None) -> None:  # type: ignore[override]
        """End of epoch: apply the rule to what was observed (or to ``losses``, if given).

        A single loss (``step(val_loss)``, a float or 0-d tensor) raises ``TypeError``: these
        schedulers read the batch losses given to :meth:`observe`.

        ``step(epoch)`` with an int (torch's deprecated form, which ``SequentialLR`` uses at a
        milestone in some torch versions) sets ``last_epoch`` and starts afresh without
        changing the rate.
        """
        if isinstance(losses, numbers.Integral) and not isinstance(losses, bool):
            losses, epoch = None, int(losses)
        elif _is_one_loss(losses):
            # ReduceLROnPlateau's habit, step(val_loss): without this, "'float' object is not iterable"
            raise TypeError(
                f"{type(self).__name__}.step() got one loss ({_short(losses)}); these schedulers read batch losses: "
                "call observe(loss) after every batch and step() with no argument once per epoch"
            )
        if epoch is not None:
            if losses is not None:
                raise ValueError("step() takes losses or an epoch, not both")
            super().step(epoch)
            return
        self._explicit_losses = None if losses is None else [float(x) for x in losses]
        try:
            super().step()
        finally:
            self._explicit_losses = None

    # --- torch's LRScheduler hooks ----------------------------------------------------------------

    def _initial_step(self) -> None:
        # At construction, and for the first scheduler of a SequentialLR: start, change nothing.
        self._starting = True
        try:
            super()._initial_step()
        finally:
            self._starting = False

    def get_lr(self) -> list[Rate]:  # type: ignore[override]
        """The rates after this step (called by ``step()``; use :meth:`get_last_lr` to read them)."""
        if self._starting:
            self._restart()
            return _group_lrs(self.optimizer)
        return self._next_lrs(self._explicit_losses)

    def _get_closed_form_lr(self) -> list[Rate]:
        # step(epoch), and SequentialLR handing over at a milestone: start from the current rate.
        self._restart()
        return _group_lrs(self.optimizer)

    # --- for subclasses ---------------------------------------------------------------------------

    def _next_lrs(self, losses: Optional[list[float]]) -> list[Rate]:
        """The rates at the end of an epoch; ``losses`` were passed to ``step()`` explicitly."""
        return _group_lrs(self.optimizer)

    def _restart(self) -> None:
        """Start afresh (construction, a SequentialLR milestone, ``step(epoch)``); rates untouched."""

    def _set_lrs(self, lrs: Sequence[float]) -> None:
        """Set the rates between epoch ends (Adacomp's windows)."""
        for group, lr in zip(self.optimizer.param_groups, lrs):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        self._last_lr = _group_lrs(self.optimizer)

    # --- checkpoints ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain Python values only (loads with ``torch.load(weights_only=True)``)."""
        return {"last_lr": list(self._last_lr), "last_epoch": self.last_epoch, "step_count": self._step_count,
                "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; also accepts states saved before the LRScheduler API (0.1.0)."""
        self._last_lr = list(state["last_lr"])
        self.last_epoch = state.get("last_epoch", self.last_epoch)
        self._step_count = state.get("step_count", self._step_count)
        self.base_lrs = list(state.get("base_lrs", self.base_lrs))


class Static(LossScheduler):
    """A constant learning rate, with the same ``observe``/``step`` protocol as the others."""


class DLRS(LossScheduler):
    """Dynamic learning-rate schedule (Dharanalakota, Raikar, Ghosh 2025), updated once per epoch.

    Each epoch, with ``L_1 … L_B`` the batch losses in order::

        slope  = (L_B - L_1) / mean(L)
        delta  = delta_d if slope >= 1, delta_o if 0 <= slope < 1, delta_i if slope < 0
        lr    <- clamp(lr - 10**floor(log10(lr)) * delta * slope, min_lr, max_lr)

    applied to every param group (see :func:`dlrs.dlrs_lr`). Non-finite losses are dropped;
    a window with fewer than two finite losses or a mean <= 1e-12 leaves the rate unchanged
    and logs why.

    ``slope`` names the entry of :data:`dlrs.rules.SLOPES` that turns a window into the slope (the
    rule above stays as it is):

    * ``"paper"`` (default): ``(L_B - L_1) / mean(L)``, the paper's rule exactly
      (:func:`dlrs.rules.window_slope`). Under a per-epoch reshuffle it mostly measures which two
      batches came first and last.
    * ``"lsq"``: the least-squares slope over all the window's losses, scaled the same way
      (:func:`dlrs.rules.lsq_slope`).
    * ``"epoch_mean"``: the change of the window's mean loss since the previous window,
      ``(m - m_prev) / ((m + m_prev) / 2)`` (:func:`dlrs.rules.mean_change_slope`); the first
      window only records its mean.

    An entry added to :data:`dlrs.rules.SLOPES` is taken by name like these.

    ``every=N`` decides every ``N`` observed losses instead of at ``step()``, for loops without
    epochs (streaming data, iteration budgets): ``observe()`` applies the rule when the window is
    full, and ``step()`` changes nothing (it only counts ``last_epoch``), so windows run across
    epoch ends. ``None`` (default): one window per epoch, decided by ``step()``.

    ``observe(loss)`` keeps the tensor on its device; the window is read to the host once per
    decision (one ``torch.stack``, one copy). Under ``torch.distributed`` each batch loss
    is averaged over ranks there with a single all-reduce, so every rank computes the same
    rate (all ranks must observe the same number of losses). Losses passed explicitly to
    ``step(losses)`` are used as given (with ``every``, they are observed).

    An :class:`~torch.optim.lr_scheduler.LRScheduler`: ``last_epoch``, ``get_last_lr()``,
    ``state_dict()`` (the partial window and the previous window's mean included) and it works
    inside ``SequentialLR`` and ``ChainedScheduler``. Inside ``SequentialLR`` it starts at its
    milestone from the rate the previous scheduler left, ignoring the losses observed before; its
    first update is at the end of its first epoch. Placed after other schedulers in a
    ``ChainedScheduler``, it starts each epoch from the rate they set.

    Example::

        sched = DLRS(torch.optim.Adam(model.parameters(), lr=5e-3))
        for epoch in range(epochs):
            for x, y in loader:
                loss = loss_fn(model(x), y)
                opt.zero_grad(); loss.backward(); opt.step()
                sched.observe(loss)
            sched.step()
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        delta_d: float = 0.5,
        delta_o: float = 1.0,
        delta_i: float = 0.1,
        min_lr: float = 1e-7,
        max_lr: float = 1.0,
        slope: str = "paper",
        every: Optional[int] = None,
        distributed: Optional[bool] = None,
    ) -> None:
        _check_optimizer(self, optimizer)
        _check_group_lrs(optimizer)
        check_dlrs_params(delta_d, delta_o, delta_i, min_lr, max_lr)
        self.delta_d, self.delta_o, self.delta_i = float(delta_d), float(delta_o), float(delta_i)
        self.min_lr, self.max_lr = float(min_lr), float(max_lr)
        self.slope: str = check_slope_kind(slope)
        self.every = _check_every(every, self.slope)
        self.distributed = distributed
        self._window: list[Loss] = []
        self._carry: Any = None  # what the slope estimate kept from the last window (epoch_mean: its mean)
        self._hinted = False  # the one warning about windows of a single loss was given
        self.last_slope: Optional[float] = None
        self.last_regime: Optional[Regime] = None
        self.last_skip_reason: Optional[str] = None
        super().__init__(optimizer)

    def _reduce_over_ranks(self) -> bool:
        return _average_over_ranks(self.distributed)

    def observe(self, loss: Loss) -> None:
        if self.last_epoch < 0:  # -1: waiting for its milestone in a SequentialLR
            return
        self._window.append(_detached_scalar(loss))
        if self.every is not None and len(self._window) >= self.every:
            values = _read_losses(self._window, self._reduce_over_ranks())
            self._window = []
            self._set_lrs(self._decide(values, stepped=False))

    def _restart(self) -> None:
        self._window, self._carry = [], None

    def _next_lrs(self, losses: Optional[list[float]]) -> list[Rate]:
        """Apply the rule to the observed window (or to ``losses``) and start a new window.
        With ``every``, only observe ``losses``: the windows are counted in losses, not epochs."""
        if self.every is not None:
            for loss in losses or ():
                self.observe(loss)
            return _group_lrs(self.optimizer)
        values = losses if losses is not None else _read_losses(self._window, self._reduce_over_ranks())
        self._window = []
        return self._decide(values, stepped=losses is None)

    def _decide(self, values: list[float], stepped: bool) -> list[Rate]:
        """The rates after one window of losses; records slope, regime and why nothing changed.
        ``stepped``: step() ended a window that observe() filled (not ``every``, not explicit losses)."""
        slope, self.last_skip_reason, self._carry = SLOPES[self.slope].estimate(values, self._carry)
        self.last_slope = slope
        if stepped and len(values) <= 1:
            # step() every batch (or no observe() at all) is a misuse of the API: a Python warning, which
            # warning filters and pytest see, once per scheduler; later windows only to the debug log
            outcome = ("left the learning rate unchanged: " + str(self.last_skip_reason) if slope is None
                       else "took a slope from a single loss")
            message = (f"DLRS {outcome}. step() ended a window of {len(values)} observed loss(es): call observe(loss) "
                       "after every batch and step() once per epoch, or use DLRS(..., every=N) to decide every N "
                       "losses in a loop without epochs (said once)")
            if self._hinted:
                logger.debug(message)
            else:
                _warn_at_caller(message)
            self._hinted = True
        elif slope is None:
            # slope="epoch_mean" has nothing to compare its first window with: expected, not a problem
            level = logging.INFO if self.last_skip_reason == FIRST_WINDOW else logging.WARNING
            logger.log(level, "DLRS left the learning rate unchanged: %s", self.last_skip_reason)
        if slope is None:
            self.last_regime = None
            return _group_lrs(self.optimizer)
        new_lrs: list[Rate] = []
        for i, group in enumerate(self.optimizer.param_groups):
            lr, self.last_regime = self._apply_slope(check_lr(group["lr"], f"param_groups[{i}]['lr']"), slope)
            new_lrs.append(lr)
        return new_lrs

    def _apply_slope(self, lr: float, slope: float) -> tuple[float, Regime]:
        """The rule proper: one group's next rate and the regime, for the window's slope.
        Subclasses swap it (``dlrs.authors`` holds the rules the paper's authors actually ran)."""
        return apply_dlrs_slope(lr, slope, delta_d=self.delta_d, delta_o=self.delta_o, delta_i=self.delta_i,
                                min_lr=self.min_lr, max_lr=self.max_lr)

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters, last update, the current (partial) window as floats and what the slope
        estimate carries to the next window (``slope="epoch_mean"``: the previous window's mean)."""
        return {
            **super().state_dict(),
            "window": _read_losses(self._window, reduce_over_ranks=False),
            "carry": self._carry,
            "last_slope": self.last_slope,
            "last_regime": self.last_regime,
            "last_skip_reason": self.last_skip_reason,
            "hparams": dict(delta_d=self.delta_d, delta_o=self.delta_o, delta_i=self.delta_i,
                            min_lr=self.min_lr, max_lr=self.max_lr, slope=self.slope, every=self.every),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._window = [float(x) for x in state["window"]]
        self._carry = state.get("carry", state.get("previous_mean"))  # "previous_mean": saved before the slope table
        self.last_slope, self.last_regime = state["last_slope"], state["last_regime"]
        self.last_skip_reason = state.get("last_skip_reason")
        for key, value in state.get("hparams", {}).items():
            setattr(self, key, value)


def _check_every(every: Optional[int], slope: str) -> Optional[int]:
    """``every`` as an int, or ``ValueError``: at least 1, and at least the losses the slope needs."""
    if every is None:
        return None
    if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
        raise ValueError(f"every must be None or a positive integer, got {every!r}")
    need = SLOPES[slope].min_losses
    if every < need:
        others = [f"slope={name!r}" for name, s in SLOPES.items() if s.min_losses <= every]
        raise ValueError(f"every={every}: a window of {every} loss(es) has no {slope} slope; use every >= {need}"
                         + (f" (or {' or '.join(others)})" if others else ""))
    return int(every)


class Adacomp(LossScheduler):
    """Adacomp (Li, Ren, Zhao, Yang 2021): a zeroth-order rule applied every ``window`` batches.

    With ``D`` the previous window's last loss minus this window's last loss (for the first
    window: its first loss minus its last), every ``window`` observations::

        lr <- lr/2 + [D > eps]  * lr * (1/2 + atan(D + 1/lr) / (5π))
                   + [D < -eps] * lr * (1/2 - atan(lr) / (5π) - atan(1/lr - D) / (5.5π))

    Windows are counted over the whole run, not per epoch, so ``step()`` at an epoch end
    changes nothing (it only counts ``last_epoch``). Reading ``D`` costs one host
    synchronisation per window. Under ``torch.distributed`` the window's losses are averaged
    over ranks there (one all-reduce per window), so every rank applies the same rate;
    ``distributed`` works as for :class:`DLRS`. Inside ``SequentialLR`` it ignores losses until
    its milestone.
    """

    def __init__(
        self, optimizer: Optimizer, *, window: int = 20, eps: float = 1e-5, distributed: Optional[bool] = None
    ) -> None:
        _check_optimizer(self, optimizer)
        _check_group_lrs(optimizer)
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if not float(eps) >= 0.0:
            raise ValueError(f"eps must be >= 0, got {eps!r}")
        self.window, self.eps = int(window), float(eps)
        self.distributed = distributed
        self._count = 0  # observations in the current window
        self._first: Optional[Loss] = None  # first loss of the run's first window
        self._last: Optional[Loss] = None
        self._previous_last: Optional[float] = None
        self.last_decrease: Optional[float] = None
        super().__init__(optimizer)

    def observe(self, loss: Loss) -> None:
        if self.last_epoch < 0:  # waiting for its milestone in a SequentialLR
            return
        value = _detached_scalar(loss)
        if self._previous_last is None and self._count == 0:
            self._first = value
        self._last = value
        self._count += 1
        if self._count == self.window:
            # Per-rank losses differ; without averaging, ranks would apply different rates.
            reduce = _average_over_ranks(self.distributed)
            if self._previous_last is None:
                reference, last = _read_losses([self._first, self._last], reduce)  # type: ignore[list-item]
            else:
                reference, (last,) = self._previous_last, _read_losses([self._last], reduce)
            self.last_decrease = reference - last
            self._set_lrs([adacomp_lr(g["lr"], self.last_decrease, eps=self.eps) for g in self.optimizer.param_groups])
            self._previous_last, self._first, self._count = last, None, 0

    def _next_lrs(self, losses: Optional[list[float]]) -> list[Rate]:
        """No change at the epoch end (the rate changes per window); ``losses`` are observed if given."""
        for loss in losses or ():
            self.observe(loss)
        return _group_lrs(self.optimizer)

    def state_dict(self) -> dict[str, Any]:
        first, last = _read_losses(
            [math.nan if self._first is None else self._first, math.nan if self._last is None else self._last], False
        )
        return {
            **super().state_dict(), "window": self.window, "eps": self.eps, "count": self._count,
            "first": None if math.isnan(first) else first, "last": None if math.isnan(last) else last,
            "previous_last": self._previous_last, "last_decrease": self.last_decrease,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.window, self.eps, self._count = state["window"], state["eps"], state["count"]
        self._first, self._last = state["first"], state["last"]
        self._previous_last, self.last_decrease = state["previous_last"], state["last_decrease"]
