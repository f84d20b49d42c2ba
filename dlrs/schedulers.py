"""Loss-driven learning-rate schedulers with one protocol: ``observe(loss)`` per batch,
``step()`` at the end of each epoch.

They change only ``param_group["lr"]``; the optimizer keeps its state (Adam moments).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional, Sequence, Union

import torch
import torch.distributed as dist
from torch.optim import Optimizer

from .rules import DLRSDecision, Regime, adacomp_lr, check_dlrs_params, check_lr, dlrs_decision

logger = logging.getLogger("dlrs")

Loss = Union[float, torch.Tensor]


def _detached_scalar(loss: Loss) -> Loss:
    """A loss as a detached 0-d tensor (left on its device) or a float; never reads the device."""
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise ValueError(f"observe() takes a scalar loss, got a tensor of shape {tuple(loss.shape)}")
        return loss.detach().reshape(())
    return float(loss)


def _read_losses(window: Sequence[Loss], reduce_over_ranks: bool) -> list[float]:
    """Read a window of losses to the host with one transfer (and one collective if asked)."""
    if not window:
        return []
    device = next((x.device for x in window if isinstance(x, torch.Tensor)), torch.device("cpu"))
    if not reduce_over_ranks and all(isinstance(x, float) for x in window):
        return list(window)  # type: ignore[arg-type]
    # MPS has no float64; its losses are float32 at most, which float32 holds exactly.
    dtype = torch.float32 if device.type == "mps" else torch.float64
    stacked = torch.stack(
        [x.to(dtype) if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=dtype, device=device) for x in window]
    )
    if reduce_over_ranks:
        if dist.get_backend() == "nccl" and stacked.device.type != "cuda":
            stacked = stacked.cuda()
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        stacked /= dist.get_world_size()
    return stacked.cpu().tolist()


def _average_over_ranks(distributed: Optional[bool]) -> bool:
    """``distributed`` if given, else whether a torch.distributed group of more than one rank is up."""
    if distributed is None:
        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    return distributed


def _check_group_lrs(optimizer: Optimizer) -> None:
    """Fail at construction, not after the first epoch, on a rate the rules cannot use."""
    for i, group in enumerate(optimizer.param_groups):
        check_lr(group["lr"], f"param_groups[{i}]['lr']")


class LossScheduler:
    """Base class: holds the optimizer and the protocol; by itself it never changes the rate."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def observe(self, loss: Loss) -> None:
        """Record one batch loss (a float or a scalar tensor on any device)."""

    def step(self, losses: Optional[Sequence[float]] = None) -> None:
        """End of epoch."""
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rate of each param group as set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {"last_lr": list(self._last_lr)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._last_lr = list(state["last_lr"])

    def _set_lrs(self, lrs: Sequence[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)


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

    ``observe(loss)`` keeps the tensor on its device; the window is read to the host once,
    in ``step()``. Under ``torch.distributed`` each batch loss is averaged over ranks there
    with a single all-reduce, so every rank computes the same rate (all ranks must observe
    the same number of losses). Losses passed explicitly to ``step(losses)`` are used as given.

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
        distributed: Optional[bool] = None,
    ) -> None:
        super().__init__(optimizer)
        _check_group_lrs(optimizer)
        check_dlrs_params(delta_d, delta_o, delta_i, min_lr, max_lr)
        self.delta_d, self.delta_o, self.delta_i = float(delta_d), float(delta_o), float(delta_i)
        self.min_lr, self.max_lr = float(min_lr), float(max_lr)
        self.distributed = distributed
        self._window: list[Loss] = []
        self.last_slope: Optional[float] = None
        self.last_regime: Optional[Regime] = None
        self.last_skip_reason: Optional[str] = None

    def _reduce_over_ranks(self) -> bool:
        return _average_over_ranks(self.distributed)

    def observe(self, loss: Loss) -> None:
        self._window.append(_detached_scalar(loss))

    def step(self, losses: Optional[Sequence[float]] = None) -> None:
        """Apply the rule to the observed window (or to ``losses``) and start a new window."""
        if losses is None:
            values = _read_losses(self._window, self._reduce_over_ranks())
        else:
            values = [float(x) for x in losses]
        self._window = []
        new_lrs = []
        for group in self.optimizer.param_groups:
            decision = self._decide(group["lr"], values)
            new_lrs.append(decision.lr)
        self.last_slope, self.last_regime = decision.slope, decision.regime
        self.last_skip_reason = decision.skip_reason
        if decision.skip_reason:
            logger.warning("DLRS left the learning rate unchanged: %s", decision.skip_reason)
        self._set_lrs(new_lrs)

    def _decide(self, lr: float, losses: Sequence[float]) -> DLRSDecision:
        """The rule: one group's next rate from the epoch's losses (subclasses swap the rule)."""
        return dlrs_decision(lr, losses, delta_d=self.delta_d, delta_o=self.delta_o, delta_i=self.delta_i,
                             min_lr=self.min_lr, max_lr=self.max_lr)

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters, last update and the current (partial) window as floats."""
        return {
            "last_lr": list(self._last_lr),
            "window": _read_losses(self._window, reduce_over_ranks=False),
            "last_slope": self.last_slope,
            "last_regime": self.last_regime,
            "hparams": dict(delta_d=self.delta_d, delta_o=self.delta_o, delta_i=self.delta_i,
                            min_lr=self.min_lr, max_lr=self.max_lr),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._window = [float(x) for x in state["window"]]
        self.last_slope, self.last_regime = state["last_slope"], state["last_regime"]
        for key, value in state.get("hparams", {}).items():
            setattr(self, key, value)


class Adacomp(LossScheduler):
    """Adacomp (Li, Ren, Zhao, Yang 2021): a zeroth-order rule applied every ``window`` batches.

    With ``D`` the previous window's last loss minus this window's last loss (for the first
    window: its first loss minus its last), every ``window`` observations::

        lr <- lr/2 + [D > eps]  * lr * (1/2 + atan(D + 1/lr) / (5π))
                   + [D < -eps] * lr * (1/2 - atan(lr) / (5π) - atan(1/lr - D) / (5.5π))

    Windows are counted over the whole run, not per epoch, so ``step()`` at an epoch end
    changes nothing. Reading ``D`` costs one host synchronisation per window. Under
    ``torch.distributed`` the window's losses are averaged over ranks there (one all-reduce
    per window), so every rank applies the same rate; ``distributed`` works as for :class:`DLRS`.
    """

    def __init__(
        self, optimizer: Optimizer, *, window: int = 20, eps: float = 1e-5, distributed: Optional[bool] = None
    ) -> None:
        super().__init__(optimizer)
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

    def observe(self, loss: Loss) -> None:
        value = _detached_scalar(loss)
        if self._previous_last is None and self._count == 0:
            self._first = value
        self._last = value
        self._count += 1
        if self._count == self.window:
            # Per-rank losses differ; without averaging, ranks would apply different rates.
            reduce = _average_over_ranks(self.distributed)
            if self._previous_last is None:
                reference, last = _read_losses([self._first, self._last], reduce)
            else:
                reference, (last,) = self._previous_last, _read_losses([self._last], reduce)
            self.last_decrease = reference - last
            self._set_lrs([adacomp_lr(g["lr"], self.last_decrease, eps=self.eps) for g in self.optimizer.param_groups])
            self._previous_last, self._first, self._count = last, None, 0

    def step(self, losses: Optional[Sequence[float]] = None) -> None:
        """No-op at the epoch end (the rate changes per window); ``losses`` are observed if given."""
        for loss in losses or ():
            self.observe(loss)

    def state_dict(self) -> dict[str, Any]:
        first, last = _read_losses(
            [math.nan if self._first is None else self._first, math.nan if self._last is None else self._last], False
        )
        return {
            "last_lr": list(self._last_lr), "window": self.window, "eps": self.eps, "count": self._count,
            "first": None if math.isnan(first) else first, "last": None if math.isnan(last) else last,
            "previous_last": self._previous_last, "last_decrease": self.last_decrease,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.window, self.eps, self._count = state["window"], state["eps"], state["count"]
        self._first, self._last = state["first"], state["last"]
        self._previous_last, self.last_decrease = state["previous_last"], state["last_decrease"]
