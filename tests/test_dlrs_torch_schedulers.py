"""DLRS, Adacomp and Static as torch LRSchedulers: construction, SequentialLR, ChainedScheduler,
checkpoints through them. Rates are checked epoch by epoch against the pure rules."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch.optim.lr_scheduler import ChainedScheduler, ConstantLR, ExponentialLR, LinearLR, LRScheduler, SequentialLR

from dlrs import DLRS, Adacomp, LossScheduler, Static, adacomp_lr, dlrs_lr

REL = 1e-12


def close(x: float) -> object:
    return pytest.approx(x, rel=REL, abs=0.0)


def sgd(*lrs: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs])


def lrs(opt: torch.optim.Optimizer) -> list[float]:
    return [float(g["lr"]) for g in opt.param_groups]


def epoch_losses(epoch: int) -> list[float]:
    """A different, exactly representable window per epoch (so float64 and float32 agree)."""
    return [[2.0, 1.5, 1.0], [1.0, 1.25, 1.5], [4.0, 3.0, 3.5, 2.5], [1.0, 3.0], [0.5, 0.25, 0.375]][epoch % 5]


def run_epoch(opt: torch.optim.Optimizer, observer: LossScheduler, sched: LRScheduler, losses: list[float]) -> None:
    """One epoch: observe each loss as a tensor (as a loop would), then the optimizer step and sched.step()."""
    for value in losses:
        observer.observe(torch.tensor(value))
    opt.step()  # no gradients: changes nothing, but torch checks that it came before sched.step()
    sched.step()


def roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# --- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [DLRS, Adacomp, Static])
def test_construction_is_an_lrscheduler_and_keeps_the_rate(cls: type) -> None:
    opt = sgd(0.0123, 0.4)
    sched = cls(opt)
    assert isinstance(sched, LRScheduler) and isinstance(sched, LossScheduler)
    assert lrs(opt) == [0.0123, 0.4] and sched.get_last_lr() == [0.0123, 0.4]
    assert sched.last_epoch == 0 and sched.base_lrs == [0.0123, 0.4]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.0123, 0.4]


def test_construction_after_another_scheduler_keeps_its_rate() -> None:
    opt = sgd(0.01)
    LinearLR(opt, start_factor=0.1, total_iters=3)  # sets the rate to 0.001 at once
    sched = DLRS(opt)
    assert lrs(opt) == [close(0.001)] and sched.get_last_lr() == [close(0.001)]
    assert sched.base_lrs == [0.01]  # initial_lr comes from the first scheduler, as in torch


def test_last_epoch_counts_steps() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    for epoch in range(3):
        run_epoch(opt, sched, sched, epoch_losses(epoch))
        assert sched.last_epoch == epoch + 1


def test_tensor_rates_are_updated_in_place() -> None:
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([w], lr=torch.tensor(0.005), foreach=False)
    rate = opt.param_groups[0]["lr"]
    start = float(rate)  # 0.005 in float32
    sched = DLRS(opt)
    w.sum().backward()
    opt.step()
    for value in (2.0, 1.5, 1.0):
        sched.observe(torch.tensor(value))
    sched.step()
    assert opt.param_groups[0]["lr"] is rate
    assert float(rate) == pytest.approx(dlrs_lr(start, [2.0, 1.5, 1.0]), rel=1e-7)  # stored in float32
    assert isinstance(sched.get_last_lr()[0], torch.Tensor) and sched.get_last_lr()[0] is not rate


# --- SequentialLR -------------------------------------------------------------------------------


def warmup_then(make: type, base: float = 0.01, warmup: int = 3, **kwargs: object):  # type: ignore[no-untyped-def]
    opt = sgd(base, 10 * base)
    warm = LinearLR(opt, start_factor=0.1, total_iters=warmup)
    sched = make(opt, **kwargs)
    return opt, warm, sched, SequentialLR(opt, [warm, sched], milestones=[warmup])


def linear_warmup_rates(base: float, warmup: int, start: float = 0.1) -> list[float]:
    """LinearLR's closed form for epochs 0 … warmup-1."""
    return [base * (start + (1 - start) * e / warmup) for e in range(warmup)]


def test_dlrs_after_linear_warmup_rates_epoch_by_epoch() -> None:
    opt, warm, dlrs, seq = warmup_then(DLRS)
    assert lrs(opt) == [close(0.001), close(0.01)]
    seen, expected = [], [[r, 10 * r] for r in linear_warmup_rates(0.01, 3)]
    for epoch in range(9):
        seen.append(lrs(opt))
        if epoch == 3:  # the hand-over: DLRS starts from the rate the warm-up left
            expected.append(expected[-1])
        elif epoch > 3:  # then one DLRS update per epoch, on that epoch's losses only
            expected.append([dlrs_lr(lr, epoch_losses(epoch - 1)) for lr in expected[-1]])
        # warm-up epochs observe a loss that would dominate any window that kept it
        run_epoch(opt, dlrs, seq, epoch_losses(epoch) + ([1e6] if epoch < 3 else []))
        assert seq.get_last_lr() == lrs(opt)
        assert dlrs.last_epoch == max(epoch - 2, -1)  # waits at -1, 0 at the hand-over
    assert seen == [[close(a), close(b)] for a, b in expected]
    assert dlrs.last_regime is not None and len(set(map(tuple, seen[3:]))) == len(seen) - 3  # DLRS moved it


def test_dlrs_ignores_losses_before_its_milestone() -> None:
    opt, warm, dlrs, seq = warmup_then(DLRS, warmup=2)
    for v in (1.0, 2.0, 3.0):
        dlrs.observe(torch.tensor(v))
    assert dlrs.state_dict()["window"] == []
    opt.step()
    seq.step()
    seq.step()  # the hand-over
    dlrs.observe(1.0)
    assert dlrs.state_dict()["window"] == [1.0]


def test_adacomp_after_constant_warmup() -> None:
    opt = sgd(0.01)
    warm = ConstantLR(opt, factor=0.5, total_iters=2)
    ada = Adacomp(opt, window=3)
    seq = SequentialLR(opt, [warm, ada], milestones=[2])
    losses = [1.0, 0.9, 0.8, 0.85, 0.9, 0.7]  # 6 per epoch: two Adacomp windows
    rates = []
    for epoch in range(4):
        rates.append(lrs(opt)[0])
        run_epoch(opt, ada, seq, losses)
    # Warm-up: 0.005, and Adacomp saw nothing. The hand-over replaces ConstantLR's last step
    # (back to 0.01), so Adacomp starts from the 0.005 it was left.
    assert rates[:3] == [close(0.005), close(0.005), close(0.005)]
    first = adacomp_lr(0.005, 1.0 - 0.8)  # first window: its first loss minus its last
    second = adacomp_lr(first, 0.8 - 0.7)
    assert rates[3] == close(second)
    assert ada.last_epoch == 2  # 0 at the hand-over (end of epoch 1), then epochs 2 and 3


def test_static_after_warmup_keeps_the_rate_the_warmup_left() -> None:
    opt, warm, static, seq = warmup_then(Static)
    rates = []
    for epoch in range(6):
        rates.append(lrs(opt)[0])
        run_epoch(opt, static, seq, epoch_losses(epoch))
    assert rates == [close(r) for r in linear_warmup_rates(0.01, 3)] + [close(0.007)] * 3


def test_dlrs_first_in_a_sequential() -> None:
    opt = sgd(0.005)
    dlrs = DLRS(opt)
    seq = SequentialLR(opt, [dlrs, ExponentialLR(opt, gamma=0.5)], milestones=[2])
    assert lrs(opt) == [0.005] and dlrs.last_epoch == 0
    run_epoch(opt, dlrs, seq, epoch_losses(0))
    assert lrs(opt) == [close(dlrs_lr(0.005, epoch_losses(0)))]
    run_epoch(opt, dlrs, seq, epoch_losses(1))
    assert lrs(opt) == [0.005]  # torch's hand-over to ExponentialLR: its closed form at epoch 0 (base_lr)


@pytest.mark.parametrize("split", [(1, 0), (2, 2), (4, 0), (5, 2)])  # warm-up / hand-over / DLRS, mid-epoch or not
def test_state_dict_round_trip_through_sequential(split: tuple[int, int]) -> None:
    epochs, (done, head) = 8, split

    def losses(epoch: int) -> list[float]:
        return epoch_losses(epoch) + [1.75, 1.125]

    opt, warm, dlrs, seq = warmup_then(DLRS, delta_i=0.3)
    reference = []
    for epoch in range(epochs):
        run_epoch(opt, dlrs, seq, losses(epoch))
        reference.append(lrs(opt))

    opt, warm, dlrs, seq = warmup_then(DLRS, delta_i=0.3)
    for epoch in range(done):
        run_epoch(opt, dlrs, seq, losses(epoch))
    for value in losses(done)[:head]:
        dlrs.observe(torch.tensor(value))
    saved = roundtrip({"opt": opt.state_dict(), "sched": seq.state_dict()})

    opt, warm, dlrs, seq = warmup_then(DLRS, base=0.5)  # other rates and delta_i: the checkpoint restores them
    opt.load_state_dict(saved["opt"])
    seq.load_state_dict(saved["sched"])
    assert dlrs.delta_i == 0.3
    for value in losses(done)[head:]:
        dlrs.observe(torch.tensor(value))
    opt.step()
    seq.step()
    resumed = [lrs(opt)]
    for epoch in range(done + 1, epochs):
        run_epoch(opt, dlrs, seq, losses(epoch))
        resumed.append(lrs(opt))
    assert resumed == reference[done:]


# --- ChainedScheduler ---------------------------------------------------------------------------


def test_chained_dlrs_then_exponential() -> None:
    opt = sgd(0.005, 0.03)
    dlrs = DLRS(opt)
    chain = ChainedScheduler([dlrs, ExponentialLR(opt, gamma=0.9)], optimizer=opt)
    expected = [0.005, 0.03]
    for epoch in range(5):
        run_epoch(opt, dlrs, chain, epoch_losses(epoch))
        expected = [0.9 * dlrs_lr(lr, epoch_losses(epoch)) for lr in expected]
        assert lrs(opt) == [close(x) for x in expected] and chain.get_last_lr() == lrs(opt)


def test_chained_exponential_then_dlrs() -> None:
    # The order matters: DLRS's step size is the decade of the rate it is given.
    opt = sgd(0.0105)
    dlrs = DLRS(opt)
    chain = ChainedScheduler([ExponentialLR(opt, gamma=0.9), dlrs])
    run_epoch(opt, dlrs, chain, [1.0, 3.0])
    assert lrs(opt) == [close(0.00945 - 0.001 * 0.5)]  # not 0.9 * (0.0105 - 0.01 * 0.5)


def test_chained_adacomp_and_static() -> None:
    opt = sgd(0.01)
    ada = Adacomp(opt, window=3)
    chain = ChainedScheduler([ada, Static(opt), ExponentialLR(opt, gamma=0.5)])
    run_epoch(opt, ada, chain, [1.0, 0.9, 0.8, 0.85])  # one window inside the epoch, then x0.5
    assert lrs(opt) == [close(0.5 * adacomp_lr(0.01, 1.0 - 0.8))]
    assert ada.state_dict()["count"] == 1


def test_chained_state_dict_round_trip() -> None:
    def build(base: float):  # type: ignore[no-untyped-def]
        opt = sgd(base)
        dlrs = DLRS(opt)
        return opt, dlrs, ChainedScheduler([dlrs, ExponentialLR(opt, gamma=0.9)])

    opt, dlrs, chain = build(0.005)
    for epoch in range(2):
        run_epoch(opt, dlrs, chain, epoch_losses(epoch))
    dlrs.observe(torch.tensor(2.0))
    saved = roundtrip({"opt": opt.state_dict(), "sched": chain.state_dict()})
    run_epoch(opt, dlrs, chain, [1.0])
    reference = lrs(opt)

    opt, dlrs, chain = build(0.7)
    opt.load_state_dict(saved["opt"])
    chain.load_state_dict(saved["sched"])
    run_epoch(opt, dlrs, chain, [1.0])
    assert lrs(opt) == reference and dlrs.last_epoch == 3


def test_chained_needs_one_optimizer() -> None:
    with pytest.raises(ValueError, match="same optimizer"):
        ChainedScheduler([DLRS(sgd(0.01)), Static(sgd(0.01))])


# --- step(epoch) --------------------------------------------------------------------------------


def test_step_with_an_epoch_restarts_without_changing_the_rate() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    for v in (2.0, 1.0):
        sched.observe(v)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):  # torch's own warning for step(epoch)
        sched.step(epoch=4)
    assert lrs(opt) == [0.005] and sched.last_epoch == 4 and sched.state_dict()["window"] == []
    with pytest.raises(ValueError, match="not both"):
        sched.step([1.0], epoch=5)
    assert not math.isnan(sched.get_last_lr()[0])
