"""The authors' own rules (dlrs.authors) against hand-computed numbers, departures included."""

from __future__ import annotations

import math

import pytest

from dlrs import dlrs_lr
from dlrs.authors import authors_cifar_lr, authors_pinn_lr

approx = lambda x: pytest.approx(x, rel=1e-12, abs=0)  # noqa: E731


# ---- the PINN rule: the decade of the slope, fixed offsets, a lower bound only -------------------
@pytest.mark.parametrize("losses, expected, paper", [
    # S = -2/3, m = -1, S < 0: lr -= S * 10**(m - 5): a rise of 6.7e-7 (the paper's rule: 6.7e-5)
    ([2.0, 1.5, 1.0], 0.005 + (2 / 3) * 1e-6, 0.005 + 0.1 * 1e-3 * (2 / 3)),
    # S = 1, m = 0: lr -= 1e-4 (the paper's rule, divergent: lr -= 0.5 * 1e-3)
    ([1.0, 3.0], 0.0049, 0.0045),
    # S = 0.4, m = -1: lr -= 0.4 * 10**(-4)
    ([1.0, 1.5], 0.005 - 0.4e-4, 0.005 - 1e-3 * 0.4),
    # S = 0 counts as S = 1 (the paper's rule leaves the rate alone)
    ([1.0, 2.0, 1.0], 0.0049, 0.005),
])
def test_pinn_rule_steps(losses, expected, paper) -> None:
    assert authors_pinn_lr(0.005, losses) == approx(expected)
    assert dlrs_lr(0.005, losses, min_lr=5.55e-5, max_lr=9e-3) == approx(paper)


def test_pinn_rule_takes_the_decade_of_the_slope_and_the_absolute_value() -> None:
    # ten losses, the last one 30: mean 31/11, S = 29.9 / (31/11) = 10.6097..., m = 1:
    # lr - S * 10**(1 - 4) is negative, and |.| turns the cut into a rise
    losses = [0.1] * 10 + [30.0]
    s = (30.0 - 0.1) / (31.0 / 11)
    assert authors_pinn_lr(0.005, losses) == approx(abs(0.005 - s * 1e-3))
    assert authors_pinn_lr(0.005, losses) > 0.005
    # a small rate: |6e-5 - 1.875e-4| = 1.275e-4, again a rise where the paper's rule cuts
    assert authors_pinn_lr(6e-5, [1.0, 31.0]) == approx(1.275e-4)


def test_pinn_rule_has_only_a_sticky_lower_bound() -> None:
    below = authors_pinn_lr(5.6e-5, [1.0, 1.5])  # 5.6e-5 - 4e-5: below the bound for one epoch
    assert below == approx(1.6e-5)
    assert authors_pinn_lr(below, [1.0, 1.5]) == 5.55e-5  # set to the bound at the next epoch
    for losses in ([2.0, 1.0], [1.0, 30.0], [1.0, 1.5]):
        assert authors_pinn_lr(5.55e-5, losses) == 5.55e-5  # and it never leaves it
    assert authors_pinn_lr(0.5, [2.0, 1.0]) > 0.5  # no upper bound (the paper's: 9e-3)


# ---- the CIFAR-10 rule: divergence at S > 2, stagnation raises the rate -------------------------
@pytest.mark.parametrize("lr, losses, expected", [
    (0.005, [2.0, 1.5, 1.0], 0.005 + 0.1 * 1e-3 * (2 / 3)),  # converging: as the paper's rule with delta_i 0.1
    (0.005, [1.0, 3.0], 0.007),            # S = 1: lr += 2 * 1e-3 * 1 (the paper's rule cuts to 0.0045)
    (0.005, [1.0, 9.0], 0.0082),           # S = 1.6: lr += 2 * 1e-3 * 1.6
    (0.005, [1.0, 1.0, 10.0], 0.004775),   # S = 2.25 > 2: lr -= 0.1 * 1e-3 * 2.25
    (0.6, [1.0, 9.0], 0.9),                # 0.6 + 0.32 clamped to the upper bound 0.9
    (1.05e-4, [0.0] * 9 + [1.0], 1e-4),    # S = 10: |1.05e-4 - 1e-4| = 5e-6, clamped to 1e-4
    (0.005, [1.0, 2.0, 1.0], 0.005 - 0.1 * 1e-3 * 1e-9),  # S = 0 counts as 1e-9: the converging branch
])
def test_cifar_rule_steps(lr, losses, expected) -> None:
    assert authors_cifar_lr(lr, losses) == approx(expected)


def test_cifar_rule_deltas_are_parameters() -> None:
    assert authors_cifar_lr(0.005, [1.0, 1.0, 10.0], delta_d=1.0) == approx(0.005 - 1e-3 * 2.25)
    assert authors_cifar_lr(0.005, [2.0, 1.0], delta_i=0.5) == approx(0.005 + 0.5 * 1e-3 * (2 / 3))


@pytest.mark.parametrize("rule", [authors_pinn_lr, authors_cifar_lr])
def test_windows_without_two_finite_losses_leave_the_rate(rule) -> None:
    assert rule(0.005, [1.0]) == 0.005
    assert rule(0.005, [math.nan, 1.0, math.inf]) == 0.005
    assert rule(0.005, [0.0, 0.0]) == 0.005  # mean 0: no slope
    # non-finite losses are left out: [2, nan, 1] is [2, 1]
    assert rule(0.005, [2.0, math.nan, 1.0]) == rule(0.005, [2.0, 1.0])
    with pytest.raises(ValueError):
        rule(-1.0, [1.0, 2.0])


# ---- the same rules as schedulers: DLRS's window, the authors' rule --------------------------------
@pytest.mark.parametrize("cls, rule, last_regime", [("AuthorsPINNDLRS", authors_pinn_lr, "divergent"),
                                                     ("AuthorsCIFARDLRS", authors_cifar_lr, "stagnant")])
def test_scheduler_applies_the_rule_to_the_observed_window(cls, rule, last_regime) -> None:
    import torch

    import dlrs.authors

    model = torch.nn.Linear(1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    sched = getattr(dlrs.authors, cls)(opt)
    lr = 0.005
    for losses in ([2.0, 1.5, 1.0], [1.0, 3.0], [1.0, 1.0, 10.0], [1.0, 9.0]):
        for loss in losses:
            sched.observe(torch.tensor(loss))
        opt.step()  # no gradients: changes nothing, but torch warns of a scheduler stepped before its optimizer
        sched.step()
        lr = rule(lr, losses)
        assert opt.param_groups[0]["lr"] == approx(lr)
    # a slope of 1.6 is divergent for the PINN rule (from 1), stagnant for the CIFAR rule (up to 2)
    assert sched.last_regime == last_regime and sched.last_slope == approx(1.6)
