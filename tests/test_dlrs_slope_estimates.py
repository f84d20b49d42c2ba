"""DLRS's slope estimates (the paper's, "lsq", "epoch_mean") as pure functions and on the scheduler,
and decisions every N observed losses (every=N): by hand, through resumes and under torch.distributed.

The paper's rule itself: test_dlrs_rules.py and test_dlrs_schedulers.py; misuse: test_dlrs_misuse.py."""

from __future__ import annotations

import collections
import doctest
import io
import logging
import math

import pytest
import torch

import dlrs.rules
import dlrs.schedulers
from dlrs import DLRS
from dlrs.rules import finite_mean, lsq_slope, mean_change_slope, window_slope
from test_dlrs_schedulers import gloo_group  # noqa: F401  (the one-rank gloo fixture, shared)

pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")

REL = 1e-12


def close(x: float) -> object:
    return pytest.approx(x, rel=REL, abs=1e-15)


def sgd(*lrs: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs])


def lrs(opt: torch.optim.Optimizer) -> list[float]:
    return [g["lr"] for g in opt.param_groups]


def roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# --- the pure functions, against numbers computed by hand ---------------------------------------


def test_lsq_slope_by_hand() -> None:
    # [4, 1, 3, 2]: n = 4, positions centred at 1.5 -> -1.5, -0.5, 0.5, 1.5; mean 2.5;
    # L - mean = 1.5, -1.5, 0.5, -0.5; sum of products = -2.25 + 0.75 + 0.25 - 0.75 = -2.0;
    # sum of squared positions = 2.25 + 0.25 + 0.25 + 2.25 = 5 -> beta = -0.4 per batch;
    # over the window (n - 1 = 3 batches) -1.2, divided by the mean 2.5: -0.48.
    # The paper's slope of the same window is (2 - 4) / 2.5 = -0.8.
    assert lsq_slope([4.0, 1.0, 3.0, 2.0]) == (close(-0.48), None)
    assert window_slope([4.0, 1.0, 3.0, 2.0]) == (close(-0.8), None)
    # non-finite losses are dropped and the rest renumbered, as for the paper's slope
    assert lsq_slope([math.nan, 4.0, math.inf, 1.0, 3.0, 2.0, -math.inf]) == (close(-0.48), None)


def test_lsq_slope_one_high_last_batch() -> None:
    # nine losses of 1 and a last one of 3: mean 1.2, positions centred at 4.5;
    # sum((i - 4.5) * (L_i - 1.2)) = sum((i - 4.5) * L_i) = (sum over 0..8 of (i - 4.5)) + 4.5 * 3
    #                              = -4.5 + 13.5 = 9;  sum((i - 4.5)**2) = 10 * 99 / 12 = 82.5;
    # beta = 9 / 82.5, slope = beta * 9 / 1.2 = 9 / 11 = 0.8181...: stagnant, where the paper's
    # (3 - 1) / 1.2 = 1.667 calls the window divergent.
    window = [1.0] * 9 + [3.0]
    assert lsq_slope(window) == (close(9 / 11), None)
    assert window_slope(window) == (close(2 / 1.2), None)


@pytest.mark.parametrize("window", [[1.0, 3.0], [1.0, 2.0, 4.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
def test_lsq_slope_is_the_papers_for_two_or_three_losses_and_for_a_line(window: list) -> None:
    # [1, 2, 4]: beta = ((-1)(-4/3) + 0 + (1)(5/3)) / 2 = 1.5; slope = 1.5 * 2 / (7/3) = 9/7 = (4 - 1) / (7/3)
    assert lsq_slope(window)[0] == close(window_slope(window)[0])
    assert lsq_slope([1.0, 2.0, 4.0])[0] == close(9 / 7)


@pytest.mark.parametrize("window", [[], [1.0], [math.nan, 1.0], [0.0, 0.0]])
def test_lsq_slope_unusable_windows(window: list) -> None:
    slope, reason = lsq_slope(window)
    assert slope is None and reason == window_slope(window)[1]


def test_mean_change_slope_by_hand() -> None:
    # previous mean 3, this window [2.5, 1.5] has mean 2: (2 - 3) / ((2 + 3) / 2) = -1 / 2.5 = -0.4
    assert mean_change_slope(3.0, [2.5, 1.5]) == (close(-0.4), None)
    # previous 2, [1, 2, 3, 2] has mean 2: no change
    assert mean_change_slope(2.0, [1.0, 2.0, 3.0, 2.0]) == (0.0, None)
    # previous 1, [3] (one loss is a window mean too): (3 - 1) / 2 = 1, divergent like the paper's [1, 3]
    assert mean_change_slope(1.0, [3.0]) == (close(1.0), None)
    # non-finite losses dropped: [nan, 4, inf] has mean 4; previous 2: (4 - 2) / 3
    assert mean_change_slope(2.0, [math.nan, 4.0, math.inf]) == (close(2 / 3), None)
    # the order of the losses does not matter, only their mean
    assert mean_change_slope(1.5, [3.0, 1.0, 2.0]) == mean_change_slope(1.5, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("previous,window,why", [(None, [1.0, 2.0], "first window"), (1.0, [], "no finite"),
                                                 (1.0, [math.nan], "no finite"), (0.0, [0.0], "undefined")])
def test_mean_change_slope_unusable(previous, window, why) -> None:
    slope, reason = mean_change_slope(previous, window)
    assert slope is None and why in reason


def test_finite_mean() -> None:
    assert finite_mean([1.0, math.nan, 2.0, math.inf]) == 1.5 and finite_mean([math.nan]) is None


def test_rules_doctests() -> None:
    assert doctest.testmod(dlrs.rules).failed == 0


# --- the options on the scheduler ------------------------------------------------------------


def test_default_is_the_papers_slope() -> None:
    sched = DLRS(sgd(0.005))
    assert (sched.slope, sched.every) == ("paper", None)


def test_lsq_scheduler_by_hand() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt, slope="lsq")
    for v in (4.0, 1.0, 3.0, 2.0):
        sched.observe(torch.tensor(v))
    sched.step()
    # slope -0.48 (above): convergent, lr + 1e-3 * 0.1 * 0.48 = 0.005048 (the paper's -0.8 would give 0.00508)
    assert lrs(opt) == [close(0.005048)]
    assert (sched.last_slope, sched.last_regime) == (close(-0.48), "convergent")


def test_epoch_mean_scheduler_by_hand(caplog: pytest.LogCaptureFixture) -> None:
    opt = sgd(0.005)
    sched = DLRS(opt, slope="epoch_mean")
    with caplog.at_level(logging.INFO, logger="dlrs"):
        for v in (3.0, 3.0):  # the first epoch only records its mean, 3
            sched.observe(torch.tensor(v))
        sched.step()
    assert lrs(opt) == [0.005] and sched.last_slope is None and "first window" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.INFO]  # expected: not a warning
    steps = [((2.5, 1.5), -0.4, "convergent", 0.005 + 1e-3 * 0.1 * 0.4),  # mean 2: (2 - 3) / 2.5
             ((1.0, 3.0), 0.0, "stagnant", 0.00504),                      # mean 2 again: no change
             ((6.0, 6.0), 1.0, "divergent", 0.00504 - 1e-3 * 0.5 * 1.0)]  # mean 6: (6 - 2) / 4
    for window, slope, regime, lr in steps:
        for v in window:
            sched.observe(torch.tensor(v))
        sched.step()
        assert (sched.last_slope, sched.last_regime) == (close(slope), regime)
        assert lrs(opt) == [close(lr)]


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match="slope must be one of paper, lsq, epoch_mean"):
        DLRS(sgd(0.005), slope="median")  # type: ignore[arg-type]
    for every in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="every"):
            DLRS(sgd(0.005), every=every)  # type: ignore[arg-type]
    for slope in ("paper", "lsq"):
        with pytest.raises(ValueError, match="every >= 2"):
            DLRS(sgd(0.005), slope=slope, every=1)
    assert DLRS(sgd(0.005), slope="epoch_mean", every=1).every == 1


# --- every=N: decisions every N observed losses -------------------------------------------------

LOSSES = [2.0, 1.5, 1.8, 1.0, 1.2, 0.9, 1.1, 0.7, 0.75, 0.8, 0.6, 0.65, 0.5]


def expected_rates(lr: float, windows: list, slope: str) -> list[float]:
    """The pure functions applied window after window (the scheduler's rates, computed apart)."""
    out, previous = [], None
    for window in windows:
        if slope == "epoch_mean":
            s, _ = mean_change_slope(previous, window)
            previous = finite_mean(window)
        else:
            s, _ = (lsq_slope if slope == "lsq" else window_slope)(window)
        if s is not None:
            lr = dlrs.rules.apply_dlrs_slope(lr, s, delta_d=0.5, delta_o=1.0, delta_i=0.1, min_lr=1e-7, max_lr=1.0)[0]
        out.append(lr)
    return out


@pytest.mark.parametrize("slope", ["paper", "lsq", "epoch_mean"])
def test_every_decides_every_n_losses_and_step_changes_nothing(slope: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = collections.Counter()
    real_read = dlrs.schedulers._read_losses

    def counting_read(window, reduce_over_ranks):  # type: ignore[no-untyped-def]
        reads["n"] += 1
        return real_read(window, reduce_over_ranks)

    monkeypatch.setattr(dlrs.schedulers, "_read_losses", counting_read)
    opt = sgd(0.005)
    sched = DLRS(opt, slope=slope, every=4)
    # float32 tensors, as a training loop's losses are: the rule sees exactly their float32 values
    losses = [torch.tensor(v) for v in LOSSES]
    want = expected_rates(0.005, [[float(x) for x in losses[i:i + 4]] for i in range(0, 12, 4)], slope)
    seen = []
    for i, loss in enumerate(losses):
        sched.observe(loss)
        assert all(isinstance(x, torch.Tensor) for x in sched._window), "the window stays on the device"
        assert reads["n"] == (i + 1) // 4, "one read per window of 4, none per batch"
        if (i + 1) % 4 == 0:
            seen.append(lrs(opt)[0])
            assert sched.get_last_lr() == lrs(opt)
        if i == 5:  # an epoch end in the middle of a window: counted, nothing else
            before = lrs(opt)
            sched.step()
            assert lrs(opt) == before and sched.last_epoch == 1 and len(sched._window) == 2
    assert seen == want and len(set(want)) > 1


@pytest.mark.parametrize("slope", ["paper", "lsq", "epoch_mean"])
@pytest.mark.parametrize("every", [None, 4])
@pytest.mark.parametrize("cut", [0, 2, 4, 5, 9, 12])
def test_resume_is_exact_with_every_variant(slope: str, every, cut: int) -> None:
    """Save anywhere (mid-window included), load into a fresh optimizer and scheduler: the same rates
    as the run that never stopped, to the bit. Epochs are 3 losses long, windows (every=4) cross them."""

    def feed(sched: DLRS, start: int, stop: int) -> None:
        for i in range(start, stop):
            sched.observe(torch.tensor(LOSSES[i]))
            if (i + 1) % 3 == 0:
                sched.step()

    ref_opt = sgd(0.005, 0.07)
    ref = DLRS(ref_opt, slope=slope, every=every)
    feed(ref, 0, len(LOSSES))

    opt = sgd(0.005, 0.07)
    sched = DLRS(opt, slope=slope, every=every)
    feed(sched, 0, cut)
    saved = roundtrip({"opt": opt.state_dict(), "sched": sched.state_dict()})
    opt2 = sgd(0.9, 0.9)  # wrong on purpose: the checkpoint restores the rates ...
    sched2 = DLRS(opt2)   # ... and the options
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    assert (sched2.slope, sched2.every) == (slope, every)
    feed(sched2, cut, len(LOSSES))
    assert lrs(opt2) == lrs(ref_opt) and sched2.get_last_lr() == ref.get_last_lr()
    assert (sched2.last_slope, sched2.last_regime, sched2.last_epoch) == (ref.last_slope, ref.last_regime,
                                                                          ref.last_epoch)
    assert lrs(ref_opt) != [0.005, 0.07]


def test_epoch_mean_resume_needs_the_previous_mean() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt, slope="epoch_mean")
    for v in (3.0, 3.0):
        sched.observe(v)
    sched.step()
    state = roundtrip(sched.state_dict())
    assert state["carry"] == 3.0
    fresh = DLRS(sgd(0.005), slope="epoch_mean")
    fresh.load_state_dict(state)
    fresh.step([2.5, 1.5])
    assert fresh.last_slope == close(-0.4)  # without the mean it would only record this window's
    # a state saved before the slope table holds the mean as "previous_mean"
    old = DLRS(sgd(0.005), slope="epoch_mean")
    old.load_state_dict({**{k: v for k, v in state.items() if k != "carry"}, "previous_mean": 3.0})
    old.step([2.5, 1.5])
    assert old.last_slope == close(-0.4)


@pytest.mark.parametrize("slope", ["paper", "lsq", "epoch_mean"])
def test_one_all_reduce_per_decision(slope: str, gloo_group: collections.Counter) -> None:
    opt = sgd(0.005)
    sched = DLRS(opt, slope=slope, distributed=True)
    for epoch in range(3):
        for v in LOSSES[4 * epoch:4 * epoch + 4]:
            sched.observe(torch.tensor(v))
        sched.step()
        assert gloo_group["all_reduce"] == epoch + 1
    opt = sgd(0.005)
    sched = DLRS(opt, slope=slope, every=3, distributed=True)
    for v in LOSSES[:9]:
        sched.observe(torch.tensor(v))
    sched.step()  # no window ends here: no collective
    assert gloo_group["all_reduce"] == 3 + 3
    assert lrs(opt) == expected_rates(0.005, [[float(torch.tensor(v)) for v in LOSSES[i:i + 3]]
                                              for i in range(0, 9, 3)], slope)[-1:]
