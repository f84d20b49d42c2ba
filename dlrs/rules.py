"""The DLRS and Adacomp update rules as pure functions of floats.

These are the single source of truth for the formulas; the scheduler classes in
:mod:`dlrs.schedulers` only collect losses and call them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, NamedTuple, Optional

Regime = Literal["divergent", "stagnant", "convergent"]

# A window whose mean loss is this small carries no usable slope (division by ~0).
MEAN_LOSS_FLOOR = 1e-12
# mean_change_slope's reason for the first window, which has nothing to compare with (not an error)
FIRST_WINDOW = "no previous window to compare the mean loss with (first window)"


@dataclass(frozen=True)
class DLRSDecision:
    """Outcome of one DLRS update: the new rate and why it was chosen.

    ``regime`` and ``slope`` are ``None`` when the window was unusable; ``skip_reason``
    then says why and ``lr`` equals the input rate.
    """

    lr: float
    slope: Optional[float]
    regime: Optional[Regime]
    skip_reason: Optional[str] = None
    carry: Any = None  # what the slope estimate hands to the next window (see Slope)


def check_lr(lr: float, name: str = "lr") -> float:
    """Return ``lr`` as a float, or raise ``ValueError`` unless it is finite and > 0."""
    lr = float(lr)
    if not math.isfinite(lr) or lr <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {lr!r}")
    return lr


def check_dlrs_params(delta_d: float, delta_o: float, delta_i: float, min_lr: float, max_lr: float) -> None:
    """Raise ``ValueError`` for negative/non-finite factors or bad rate bounds."""
    for name, value in (("delta_d", delta_d), ("delta_o", delta_o), ("delta_i", delta_i)):
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    check_lr(min_lr, "min_lr")
    check_lr(max_lr, "max_lr")
    if min_lr >= max_lr:
        raise ValueError(f"min_lr must be < max_lr, got min_lr={min_lr!r} >= max_lr={max_lr!r}")


def _pow10(n: int) -> float:
    """The float nearest to 10**n: parsing "1e<n>" is correctly rounded, ``10.0**n`` is not
    always (10.0**23 > 1e23), and it gives inf instead of OverflowError past 1e308."""
    return float(f"1e{n}")


def _decade(lr: float) -> int:
    """floor(log10(lr)) taken so that the literal ``1e<n>`` has decade n, despite rounding in log10."""
    n = math.floor(math.log10(lr))
    if _pow10(n) > lr:
        n -= 1
    elif _pow10(n + 1) <= lr:
        n += 1
    return n


def window_slope(losses: Iterable[float]) -> tuple[Optional[float], Optional[str]]:
    """The normalised slope ``(L_B - L_1) / mean(L)`` of the finite losses, or ``(None, reason)``
    when the window is unusable (fewer than two finite losses, or a mean <= 1e-12)."""
    finite = [x for x in map(float, losses) if math.isfinite(x)]
    if len(finite) < 2:
        return None, f"only {len(finite)} finite loss(es) in the window; need 2"
    mean = math.fsum(finite) / len(finite)
    if mean <= MEAN_LOSS_FLOOR:
        return None, f"mean loss {mean:.3g} <= {MEAN_LOSS_FLOOR:g}; slope undefined"
    return (finite[-1] - finite[0]) / mean, None


def finite_mean(losses: Iterable[float]) -> Optional[float]:
    """The mean of the finite losses, or ``None`` when there is none."""
    finite = [x for x in map(float, losses) if math.isfinite(x)]
    return math.fsum(finite) / len(finite) if finite else None


def lsq_slope(losses: Iterable[float]) -> tuple[Optional[float], Optional[str]]:
    """The least-squares slope of the finite losses against their position, scaled like the
    paper's slope: the fitted change over the window divided by its mean, or ``(None, reason)``
    when the window is unusable (as in :func:`window_slope`).

    With ``L_0 … L_{n-1}`` the finite losses (non-finite ones dropped, positions renumbered)::

        beta  = sum((i - (n-1)/2) * (L_i - mean)) / sum((i - (n-1)/2)**2)
        slope = beta * (n - 1) / mean

    Every loss counts, so a reshuffled first or last batch moves it by about ``1/n`` of what it
    moves the paper's slope. It equals :func:`window_slope` for a linear window and for
    ``n <= 3`` (where the fit only sees the end points).

    >>> round(lsq_slope([4.0, 1.0, 3.0, 2.0])[0], 12)   # beta = -2 / 5, slope = -0.4 * 3 / 2.5
    -0.48
    """
    finite = [x for x in map(float, losses) if math.isfinite(x)]
    n = len(finite)
    if n < 2:
        return None, f"only {n} finite loss(es) in the window; need 2"
    mean = math.fsum(finite) / n
    if mean <= MEAN_LOSS_FLOOR:
        return None, f"mean loss {mean:.3g} <= {MEAN_LOSS_FLOOR:g}; slope undefined"
    centre = (n - 1) / 2.0
    # sum((i - centre)**2) over i = 0 … n-1, in closed form
    spread = n * (n * n - 1) / 12.0
    beta = math.fsum((i - centre) * (x - mean) for i, x in enumerate(finite)) / spread
    return beta * (n - 1) / mean, None


def mean_change_slope(previous_mean: Optional[float], losses: Iterable[float]) -> tuple[Optional[float], Optional[str]]:
    """The change of the mean loss from the previous window to this one, scaled like the
    paper's slope, or ``(None, reason)``::

        m     = mean of this window's finite losses
        slope = (m - previous_mean) / ((m + previous_mean) / 2)

    The paper's slope of a straight line from ``L_1`` to ``L_B`` is ``(L_B - L_1) / ((L_1 + L_B) / 2)``;
    here two window means stand in for the two end points. A window that holds every sample once
    (an epoch) has the same mean in any batch order, so a reshuffle alone does not move it.
    Unusable: no previous mean (the first window), no finite loss in this one, or the two means
    averaging <= 1e-12.

    >>> mean_change_slope(3.0, [2.5, 1.5])   # m = 2, (2 - 3) / 2.5
    (-0.4, None)
    """
    mean = finite_mean(losses)
    if mean is None:
        return None, "no finite loss in the window"
    if previous_mean is None:
        return None, FIRST_WINDOW
    middle = (mean + previous_mean) / 2.0
    if middle <= MEAN_LOSS_FLOOR:
        return None, f"mean loss {middle:.3g} <= {MEAN_LOSS_FLOOR:g}; slope undefined"
    return (mean - previous_mean) / middle, None


class SlopeEstimate(NamedTuple):
    """One window's slope, or ``None`` and why not; and the state the next window's estimate gets."""

    slope: Optional[float]
    reason: Optional[str] = None
    carry: Any = None


@dataclass(frozen=True)
class Slope:
    """One way a window of losses becomes the slope the DLRS rule acts on: an entry of :data:`SLOPES`.

    ``estimate(losses, carry)`` is called once per window with the window's losses (floats in the
    order they were computed, non-finite ones included) and the ``carry`` it returned for the
    previous window: ``None`` for the first window, after a restart and for a stateless estimate.
    ``carry`` is the estimate's only state; DLRS keeps it between windows and in its ``state_dict()``,
    so it must be a plain value (``None``, a number, a list of numbers) that ``torch.load(weights_only=True)`` reads.
    ``min_losses``: the fewest losses a window can hold and still give a slope (``DLRS(every=N)`` needs ``N >= min_losses``).
    """

    estimate: Callable[[list[float], Any], SlopeEstimate]
    min_losses: int = 2


def _epoch_mean(losses: list[float], previous_mean: Any) -> SlopeEstimate:
    """:func:`mean_change_slope` against the previous window's mean; this window's mean (if any) is carried on."""
    mean = finite_mean(losses)
    return SlopeEstimate(*mean_change_slope(previous_mean, losses), previous_mean if mean is None else mean)


# The slopes DLRS(slope=<name>) and dlrs_decision(slope=<name>) know, by name (docs/dlrs_in_ordinary_loops.md
# compares them). Adding one is adding an entry: the scheduler, dlrs_decision and the harness's schema read it here.
SLOPES: dict[str, Slope] = {
    "paper": Slope(lambda losses, _: SlopeEstimate(*window_slope(losses))),  # the paper's (L_B - L_1) / mean(L)
    "lsq": Slope(lambda losses, _: SlopeEstimate(*lsq_slope(losses))),      # least squares over the whole window
    "epoch_mean": Slope(_epoch_mean, min_losses=1),                          # change of the window's mean loss
}


def check_slope_kind(slope: str) -> str:
    """Return ``slope`` unless it names no entry of :data:`SLOPES` (then raise ``ValueError``)."""
    if slope not in SLOPES:
        raise ValueError(f"slope must be one of {', '.join(SLOPES)}; got {slope!r}")
    return slope


def apply_dlrs_slope(
    lr: float, slope: float, *, delta_d: float, delta_o: float, delta_i: float, min_lr: float, max_lr: float
) -> tuple[float, Regime]:
    """One DLRS update of a (checked) rate for a known slope: the new rate and the regime.
    The parameters are not validated here; :func:`dlrs_decision` does that."""
    if slope >= 1.0:
        regime, delta = "divergent", delta_d
    elif slope >= 0.0:
        regime, delta = "stagnant", delta_o
    else:
        regime, delta = "convergent", delta_i
    new_lr = lr - _pow10(_decade(lr)) * delta * slope
    return min(max(new_lr, min_lr), max_lr), regime  # type: ignore[return-value]


def dlrs_decision(
    lr: float,
    losses: Iterable[float],
    *,
    delta_d: float = 0.5,
    delta_o: float = 1.0,
    delta_i: float = 0.1,
    min_lr: float = 1e-7,
    max_lr: float = 1.0,
    slope: str = "paper",
    carry: Any = None,
) -> DLRSDecision:
    """Apply the DLRS rule once and report slope and regime as well as the new rate.

    See :func:`dlrs_lr` for the rule. ``slope`` names the entry of :data:`SLOPES` that turns the
    window into the slope, as ``DLRS(slope=...)``; ``carry`` is the previous decision's ``carry``
    (``slope="epoch_mean"``: the previous window's mean), ``None`` for the first window.

    >>> first = dlrs_decision(0.005, [3.5, 2.5], slope="epoch_mean")   # nothing to compare with yet
    >>> first.lr, first.carry
    (0.005, 3.0)
    >>> round(dlrs_decision(first.lr, [2.5, 1.5], slope="epoch_mean", carry=first.carry).lr, 12)   # slope -0.4
    0.00504
    """
    lr = check_lr(lr)
    check_dlrs_params(delta_d, delta_o, delta_i, min_lr, max_lr)
    value, skip_reason, carry = SLOPES[check_slope_kind(slope)].estimate(list(map(float, losses)), carry)
    if value is None:
        return DLRSDecision(lr, None, None, skip_reason, carry)
    new_lr, regime = apply_dlrs_slope(
        lr, value, delta_d=delta_d, delta_o=delta_o, delta_i=delta_i, min_lr=min_lr, max_lr=max_lr
    )
    return DLRSDecision(new_lr, value, regime, carry=carry)


def dlrs_lr(
    lr: float,
    losses: Iterable[float],
    *,
    delta_d: float = 0.5,
    delta_o: float = 1.0,
    delta_i: float = 0.1,
    min_lr: float = 1e-7,
    max_lr: float = 1.0,
) -> float:
    """Return the next learning rate under DLRS, given one epoch's batch losses.

    With ``L_1 … L_B`` the finite losses in the order they were computed::

        slope  = (L_B - L_1) / mean(L)         # normalised loss slope
        n      = floor(log10(lr))              # adjustment granularity 10**n
        delta  = delta_d if slope >= 1         # divergent: loss at least doubled
                 delta_o if 0 <= slope < 1     # stagnant / noisy
                 delta_i if slope < 0          # convergent
        new_lr = clamp(lr - 10**n * delta * slope, min_lr, max_lr)

    Non-finite losses are dropped. With fewer than two finite losses, or a mean loss
    <= 1e-12, ``lr`` is returned unchanged.

    Raises:
        ValueError: ``lr`` not finite and > 0, a negative factor, or ``min_lr >= max_lr``.

    >>> round(dlrs_lr(0.005, [1.0, 3.0]), 12)
    0.0045
    """
    return dlrs_decision(
        lr, losses, delta_d=delta_d, delta_o=delta_o, delta_i=delta_i, min_lr=min_lr, max_lr=max_lr
    ).lr


def adacomp_lr(lr: float, loss_decrease: float, *, eps: float = 1e-5) -> float:
    """Return the next learning rate under Adacomp (Li et al. 2021), applied once per window.

    ``loss_decrease`` is ``D``: the previous window's last loss minus this window's last
    loss (positive when the loss went down)::

        new_lr = lr/2
               + [D >  eps] * lr * (1/2 + atan(D + 1/lr) / (5π))
               + [D < -eps] * lr * (1/2 - atan(lr) / (5π) - atan(1/lr - D) / (5.5π))

    A falling loss raises the rate by at most 10 %, a rising loss lowers it by about 9 %,
    and a flat window (|D| <= eps) halves it. A NaN ``D`` (no comparable losses) leaves the
    rate unchanged; ±inf follows the formula.

    Raises:
        ValueError: ``lr`` not finite and > 0, or ``eps`` negative.
    """
    lr = check_lr(lr)
    eps = float(eps)
    if not eps >= 0.0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    d = float(loss_decrease)
    if math.isnan(d):
        return lr
    new_lr = lr / 2.0
    if d > eps:
        new_lr += lr * (0.5 + math.atan(d + 1.0 / lr) / (5.0 * math.pi))
    elif d < -eps:
        new_lr += lr * (0.5 - math.atan(lr) / (5.0 * math.pi) - math.atan(1.0 / lr - d) / (5.5 * math.pi))
    return new_lr
