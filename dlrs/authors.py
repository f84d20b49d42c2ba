"""The rules the paper's authors actually ran, beside the paper's rule (:func:`dlrs.dlrs_lr`).

Read in their public repository (AshwinRaikar88/dynamic-learning-rate-scheduler) and written
here from that reading, for ablations only; ``DLRS`` stays the paper's rule. Each function takes
the current rate and one epoch's batch losses, in order, and returns the next rate. As in the
paper's rule, non-finite losses are left out, and with fewer than two finite losses (or a mean
<= 1e-12) the rate is unchanged; the authors' code has no such guard.

With ``S = (L_last - L_first) / mean(L)``:

* :func:`authors_pinn_lr` (``pinns/pinn/pinn_acoustic.py``, ``callback_dynamic_lr``): the step's
  decade comes from the *slope*, ``m = floor(log10 |S|)``, not from the rate, and the offsets are
  fixed: ``S >= 1: lr -= S·10^(m-4)``; ``0 <= S < 1: lr -= S·10^(m-3)``; ``S < 0: lr -= S·10^(m-5)``;
  then ``lr = |lr|``. ``S == 0`` counts as ``S = 1``. Only a lower bound: while ``lr > min_lr`` the
  rule applies (and may take the rate below the bound for one epoch); a rate below the bound is
  set to it at the next epoch; a rate equal to the bound never moves again. No upper bound.
* :func:`authors_cifar_lr` (``CIFAR-10 experiments/dlrs_utils/dlrs.py``, as ``main_DLRS.py`` calls
  it): ``n = floor(log10 lr)``; ``S == 0`` counts as ``S = 1e-9``. ``S > 2`` (a divergence threshold
  of 2, not 1): ``lr -= delta_d·10^n·S``; ``1e-8 < S <= 2``: ``lr += 2·10^n·S`` (a stagnant epoch
  *raises* the rate); otherwise ``lr -= delta_i·10^n·S``. Then ``lr = |lr|``, clamped to
  ``[min_lr, max_lr]`` = ``[1e-4, 0.9]``, with ``delta_d = delta_i = 0.1`` (the script's defaults).
  The authors' script also re-created plain SGD at the new rate each epoch; that is an optimizer
  choice, not part of this rule.
"""

from __future__ import annotations

import math
import sys
from typing import Optional, Sequence

from torch.optim import Optimizer

from .rules import Regime, check_lr, window_slope
from .schedulers import DLRS


def _pinn_step(lr: float, s: float, min_lr: float) -> float:
    if lr < min_lr:
        return float(min_lr)
    if lr == min_lr:  # the authors' rule never leaves its lower bound
        return float(lr)
    if s == 0:
        s = 1.0
    m = math.floor(math.log10(abs(s)))
    offset = 4 if s >= 1 else 3 if s >= 0 else 5
    return abs(lr - s * 10.0 ** (m - offset))


def _cifar_step(lr: float, s: float, delta_d: float, delta_i: float, min_lr: float, max_lr: float) -> float:
    if s == 0:
        s = 1e-9
    decade = 10.0 ** math.floor(math.log10(lr))
    if s > 2:
        step = delta_d * decade * s
    elif s > 1e-8:
        step = -2.0 * decade * s
    else:
        step = delta_i * decade * s
    return min(max(abs(lr - step), min_lr), max_lr)


def authors_pinn_lr(lr: float, losses: Sequence[float], *, min_lr: float = 5.55e-5) -> float:
    """The next rate under the authors' PINN rule (see the module docstring)."""
    lr = check_lr(lr, "lr")
    s, _ = window_slope(losses)
    if s is None:
        return float(min_lr) if lr < min_lr else lr
    return _pinn_step(lr, s, min_lr)


def authors_cifar_lr(lr: float, losses: Sequence[float], *, delta_d: float = 0.1, delta_i: float = 0.1,
                     min_lr: float = 1e-4, max_lr: float = 0.9) -> float:
    """The next rate under the authors' CIFAR-10 rule (see the module docstring)."""
    lr = check_lr(lr, "lr")
    s, _ = window_slope(losses)
    return lr if s is None else _cifar_step(lr, s, delta_d, delta_i, min_lr, max_lr)


def _regime(slope: float, divergent_from: float) -> Regime:
    return "divergent" if slope >= divergent_from else "stagnant" if slope >= 0 else "convergent"  # type: ignore[return-value]


class AuthorsPINNDLRS(DLRS):
    """:class:`DLRS`'s loss window (per-batch ``observe``, averaged over ranks) with the authors'
    PINN rule, :func:`authors_pinn_lr`, in place of the paper's. For ablations."""

    def __init__(self, optimizer: Optimizer, *, min_lr: float = 5.55e-5, distributed: Optional[bool] = None) -> None:
        # no upper bound in the authors' PINN rule: the largest float stands in for one
        super().__init__(optimizer, min_lr=min_lr, max_lr=sys.float_info.max, distributed=distributed)

    def _apply_slope(self, lr: float, slope: float) -> tuple[float, Regime]:
        return _pinn_step(lr, slope, self.min_lr), _regime(slope or 1.0, divergent_from=1.0)  # 0 counts as 1


class AuthorsCIFARDLRS(DLRS):
    """:class:`DLRS`'s loss window with the authors' CIFAR-10 rule, :func:`authors_cifar_lr`
    (its regimes: divergent above a slope of 2, and a stagnant epoch raises the rate). For ablations."""

    def __init__(self, optimizer: Optimizer, *, delta_d: float = 0.1, delta_i: float = 0.1, min_lr: float = 1e-4,
                 max_lr: float = 0.9, distributed: Optional[bool] = None) -> None:
        super().__init__(optimizer, delta_d=delta_d, delta_i=delta_i, min_lr=min_lr, max_lr=max_lr,
                         distributed=distributed)

    def _apply_slope(self, lr: float, slope: float) -> tuple[float, Regime]:
        return (_cifar_step(lr, slope, self.delta_d, self.delta_i, self.min_lr, self.max_lr),
                "divergent" if slope > 2 else "stagnant" if slope > 1e-8 else "convergent")
