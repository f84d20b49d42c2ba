"""The DLRS and Adacomp rules (SPEC §1, §2) as pure functions, against hand-computed numbers."""

import math
import random

import pytest

from dlrs import DLRSDecision, adacomp_lr, dlrs_decision, dlrs_lr

REL = 1e-12
# Distinct factors, so the result shows which one the rule picked.
DELTAS = dict(delta_d=0.2, delta_o=0.3, delta_i=0.7)


def close(x: float) -> object:
    return pytest.approx(x, rel=REL, abs=0.0)


# --- SPEC §1 worked examples ---------------------------------------------------------------


def test_worked_example_convergent() -> None:
    # mean 1.5, slope -1/1.5 = -2/3, n = -3, delta_i = 0.1
    assert dlrs_lr(0.005, [2.0, 1.5, 1.0]) == close(0.005 + 0.001 * 0.1 * (2.0 / 3.0))
    assert dlrs_lr(0.005, [2.0, 1.5, 1.0]) == close(0.0050666666666666667)


def test_worked_example_divergent() -> None:
    # mean 2, slope 1.0 exactly, delta_d = 0.5
    assert dlrs_lr(0.005, [1.0, 3.0]) == close(0.0045)


# --- regimes and their boundaries ----------------------------------------------------------


def test_slope_exactly_zero_is_stagnant_and_keeps_the_rate() -> None:
    d = dlrs_decision(0.005, [1.0, 5.0, 1.0], **DELTAS)
    assert d == DLRSDecision(0.005, 0.0, "stagnant", None)


def test_slope_exactly_one_is_divergent() -> None:
    d = dlrs_decision(0.005, [1.0, 3.0], **DELTAS)
    assert (d.regime, d.slope) == ("divergent", 1.0)
    assert d.lr == close(0.005 - 0.001 * 0.2 * 1.0)


def test_slope_just_below_one_is_stagnant() -> None:
    # mean 1.9995, slope 1.999 / 1.9995 = 3998/3999
    d = dlrs_decision(0.005, [1.0, 2.999], **DELTAS)
    assert d.regime == "stagnant"
    assert d.slope == close(3998 / 3999)
    assert d.lr == close(0.005 - 0.001 * 0.3 * 3998 / 3999)


def test_negative_slope_is_convergent_and_raises_the_rate() -> None:
    d = dlrs_decision(0.005, [3.0, 2.0, 1.0], **DELTAS)  # mean 2, slope -1
    assert (d.regime, d.slope) == ("convergent", -1.0)
    assert d.lr == close(0.005 + 0.001 * 0.7)
    assert d.skip_reason is None


def test_only_first_and_last_loss_set_the_slope() -> None:
    # mean (1+10+0+2)/4 = 3.25, slope (2-1)/3.25; the middle values only enter the mean
    assert dlrs_decision(0.05, [1.0, 10.0, 0.0, 2.0]).slope == close(1.0 / 3.25)


@pytest.mark.parametrize(
    "lr, expected",
    [
        (1e-3, 1e-3 - 1e-3 * 0.5),  # n = -3
        (0.00999, 0.00999 - 1e-3 * 0.5),  # n = -3
        (0.01, 0.01 - 1e-2 * 0.5),  # n = -2
        (0.5, 0.5 - 1e-1 * 0.5),  # n = -1
        (1e-5, 1e-5 - 1e-5 * 0.5),  # n = -5
        (9.99e-6, 9.99e-6 - 1e-6 * 0.5),  # n = -6
    ],
)
def test_granularity_is_the_decade_of_the_rate(lr: float, expected: float) -> None:
    assert dlrs_lr(lr, [1.0, 3.0], min_lr=1e-9) == close(expected)  # slope 1, delta_d 0.5


def test_granularity_exact_where_pow_rounds() -> None:
    # 10.0**23 rounds above the float 1e23; the decade of 1e23 is still 23.
    assert dlrs_lr(1e23, [1.0, 3.0], max_lr=1e30) == close(1e23 - 1e23 * 0.5)


# --- bounds ---------------------------------------------------------------------------------


def test_clamped_to_max_lr() -> None:
    # mean 0.1, slope -100: 0.9 + 0.1 * 0.1 * 100 = 1.9 > max_lr
    assert dlrs_lr(0.9, [10.0] + [0.0] * 99) == 1.0
    assert dlrs_lr(0.9, [10.0] + [0.0] * 99, max_lr=0.95) == 0.95


def test_clamped_to_min_lr() -> None:
    # mean 0.1, slope 100: 0.005 - 0.001 * 0.5 * 100 < 0
    assert dlrs_lr(0.005, [0.0] * 99 + [10.0]) == 1e-7
    # 1e-6 - 1e-6 * 0.5 = 5e-7 < 8e-7
    assert dlrs_lr(1e-6, [1.0, 3.0], min_lr=8e-7) == 8e-7


def test_rate_stays_positive_and_bounded_on_random_windows() -> None:
    rng = random.Random(1234)
    for _ in range(2000):
        lr = 10 ** rng.uniform(-7, 0)
        losses = [10 ** rng.uniform(-8, 8) * rng.choice([1.0, 1.0, 1.0, -1.0]) for _ in range(rng.randint(2, 30))]
        new = dlrs_lr(lr, losses)
        assert 1e-7 <= new <= 1.0
        assert new > 0.0


# --- non-finite and degenerate windows ------------------------------------------------------


def test_non_finite_losses_are_dropped() -> None:
    nan, inf = math.nan, math.inf
    expected = 0.005 + 0.001 * 0.1 * (2.0 / 3.0)
    assert dlrs_lr(0.005, [nan, 2.0, inf, 1.5, -inf, 1.0, nan]) == close(expected)
    d = dlrs_decision(0.005, [inf, 1.0, nan, 3.0])  # first finite loss is 1.0 -> slope 1
    assert (d.regime, d.slope, d.lr) == ("divergent", 1.0, close(0.0045))


@pytest.mark.parametrize(
    "losses",
    [[], [1.0], [math.nan, 1.0], [math.nan, math.inf, -math.inf], [0.0, 0.0], [1e-13, 1e-13], [-1.0, -2.0]],
)
def test_unusable_window_leaves_the_rate_unchanged(losses: list[float]) -> None:
    d = dlrs_decision(0.0123, losses)
    assert (d.lr, d.slope, d.regime) == (0.0123, None, None)
    assert d.skip_reason
    assert dlrs_lr(0.0123, losses) == 0.0123


# --- invalid arguments ----------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.0, -1e-3, math.nan, math.inf, -math.inf])
def test_invalid_rate_raises(lr: float) -> None:
    with pytest.raises(ValueError, match="lr"):
        dlrs_lr(lr, [1.0, 2.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(delta_d=-0.5), dict(delta_o=-1.0), dict(delta_i=-0.1), dict(delta_i=math.nan),
        dict(min_lr=0.1, max_lr=0.1), dict(min_lr=0.2, max_lr=0.1), dict(min_lr=0.0), dict(max_lr=math.inf),
    ],
)
def test_invalid_parameters_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        dlrs_lr(0.01, [1.0, 2.0], **kwargs)


# --- Adacomp (SPEC §2) ----------------------------------------------------------------------


def test_adacomp_loss_went_down() -> None:
    # lr/2 + lr * (1/2 + atan(D + 1/lr) / (5π)) with lr = 0.01, D = 0.5
    expected = 0.01 / 2 + 0.01 * (0.5 + math.atan(0.5 + 100.0) / (5 * math.pi))
    assert adacomp_lr(0.01, 0.5) == close(expected)
    assert adacomp_lr(0.01, 0.5) == close(0.010993665683944456)


def test_adacomp_flat_window_halves() -> None:
    assert adacomp_lr(0.01, 0.0) == close(0.005)
    assert adacomp_lr(0.01, 1e-5) == close(0.005)  # |D| <= eps counts as flat
    assert adacomp_lr(0.01, -1e-5) == close(0.005)
    assert adacomp_lr(0.01, 2e-5) > 0.01


def test_adacomp_loss_went_up() -> None:
    # lr/2 + lr * (1/2 - atan(lr) / (5π) - atan(1/lr - D) / (5.5π)) with lr = 0.01, D = -0.5
    expected = 0.01 / 2 + 0.01 * (0.5 - math.atan(0.01) / (5 * math.pi) - math.atan(100.0 + 0.5) / (5.5 * math.pi))
    assert adacomp_lr(0.01, -0.5) == close(expected)
    assert adacomp_lr(0.01, -0.5) == close(0.009090301574520676)


def test_adacomp_bounds() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        lr = 10 ** rng.uniform(-6, -1)
        d = 10 ** rng.uniform(-4, 6)
        assert 1.0 < adacomp_lr(lr, d) / lr <= 1.1  # at most +10 %
        assert 0.90 < adacomp_lr(lr, -d) / lr < 0.91  # about -9 %
    assert adacomp_lr(0.01, math.inf) == close(0.011)  # atan -> π/2: exactly +10 %


def test_adacomp_nan_keeps_rate_and_invalid_arguments_raise() -> None:
    assert adacomp_lr(0.01, math.nan) == 0.01
    for bad in (0.0, -0.1, math.nan, math.inf):
        with pytest.raises(ValueError):
            adacomp_lr(bad, 0.5)
    with pytest.raises(ValueError):
        adacomp_lr(0.01, 0.5, eps=-1e-5)
