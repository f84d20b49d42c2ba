"""The scheduler classes: the observe()/step() protocol, real optimizers, checkpoints, distributed."""

import collections
import io
import logging
import math
import warnings

import pytest
import torch
import torch.distributed as dist

from dlrs import DLRS, Adacomp, Static, dlrs_lr

# Most tests here step a scheduler without an optimizer step first; torch warns about that order.
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")

REL = 1e-12


def close(x: float) -> object:
    return pytest.approx(x, rel=REL, abs=0.0)


def sgd(*lrs: float) -> torch.optim.Optimizer:
    """An optimizer with one param group per rate."""
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs])


def lrs(opt: torch.optim.Optimizer) -> list[float]:
    return [g["lr"] for g in opt.param_groups]


def graph_loss(value: float) -> torch.Tensor:
    """A 0-d loss tensor that is part of an autograd graph, like a real batch loss."""
    w = torch.nn.Parameter(torch.tensor(1.0))
    return w * value


def spec_adacomp(lr: float, d: float, eps: float = 1e-5) -> float:
    """SPEC §2 written out, independent of dlrs.rules."""
    up = lr * (0.5 + math.atan(d + 1 / lr) / (5 * math.pi)) if d > eps else 0.0
    down = lr * (0.5 - math.atan(lr) / (5 * math.pi) - math.atan(1 / lr - d) / (5.5 * math.pi)) if d < -eps else 0.0
    return lr / 2 + up + down


def roundtrip(state: dict) -> dict:
    """Through torch.save / torch.load(weights_only=True), as a checkpoint would go."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# --- DLRS protocol ----------------------------------------------------------------------------


def test_dlrs_step_sets_rate_slope_and_regime() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    assert sched.get_last_lr() == [0.005] and sched.last_slope is None and sched.last_regime is None
    for v in (2.0, 1.5, 1.0):
        sched.observe(graph_loss(v))
    assert lrs(opt) == [0.005]  # observe never changes the rate
    sched.step()
    first = 0.005 + 0.001 * 0.1 * (2.0 / 3.0)
    assert lrs(opt) == [close(first)] and sched.get_last_lr() == [close(first)]
    assert sched.last_slope == close(-2.0 / 3.0) and sched.last_regime == "convergent"
    for v in (1.0, 3.0):  # the window starts afresh: slope 1, delta_d
        sched.observe(v)
    sched.step()
    assert lrs(opt) == [close(first - 0.001 * 0.5)]
    assert (sched.last_slope, sched.last_regime) == (1.0, "divergent")


def test_dlrs_param_groups_use_their_own_granularity() -> None:
    opt = sgd(0.05, 0.003)
    sched = DLRS(opt)
    sched.observe(1.0)
    sched.observe(3.0)
    sched.step()
    assert lrs(opt) == [close(0.05 - 0.01 * 0.5), close(0.003 - 0.001 * 0.5)]


def test_observe_accepts_floats_and_scalar_tensors() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    sched.observe(2)  # int
    sched.observe(torch.tensor([1.5], dtype=torch.bfloat16))  # one element, low precision
    sched.observe(torch.tensor(1.0, dtype=torch.float64))
    sched.step()
    assert lrs(opt) == [close(0.0050666666666666667)]


@pytest.mark.parametrize("bad", [torch.ones(2), torch.ones(2, 3), torch.empty(0)])
def test_observe_rejects_non_scalar_tensors(bad: torch.Tensor) -> None:
    for sched in (DLRS(sgd(0.01)), Adacomp(sgd(0.01))):
        with pytest.raises(ValueError, match="scalar"):
            sched.observe(bad)


def test_dlrs_drops_non_finite_tensor_losses() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    for v in (math.nan, 2.0, math.inf, 1.5, 1.0, -math.inf):
        sched.observe(torch.tensor(v))
    sched.step()
    assert lrs(opt) == [close(0.0050666666666666667)]


@pytest.mark.parametrize("window", [[], [1.0], [math.nan, 1.0], [0.0, 0.0]])
def test_dlrs_unusable_window_keeps_rate_and_says_why(window: list, caplog: pytest.LogCaptureFixture) -> None:
    opt = sgd(0.0123)
    sched = DLRS(opt)
    for v in window:
        sched.observe(torch.tensor(v))
    with caplog.at_level(logging.WARNING, logger="dlrs"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.step()
    assert lrs(opt) == [0.0123] and sched.get_last_lr() == [0.0123]
    assert sched.last_slope is None and sched.last_regime is None and sched.last_skip_reason
    # fewer than two observed losses is a misuse (a warning); NaN or zero losses a condition (the log)
    said = " ".join(str(w.message) for w in caught) if len(window) < 2 else caplog.text
    assert "unchanged" in said


def test_dlrs_step_with_explicit_losses() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    sched.observe(100.0)  # discarded: explicit losses win
    sched.step([1.0, 3.0])
    assert lrs(opt) == [close(0.0045)]


def test_invalid_construction_raises() -> None:
    with pytest.raises(TypeError):
        DLRS(object())  # type: ignore[arg-type]
    for kwargs in (dict(delta_d=-1.0), dict(min_lr=1.0, max_lr=0.5), dict(min_lr=0.0)):
        with pytest.raises(ValueError):
            DLRS(sgd(0.01), **kwargs)
    for lr in (0.0, math.nan):
        for cls in (DLRS, Adacomp):
            with pytest.raises(ValueError, match="lr"):
                cls(sgd(0.01, lr))
    for kwargs in (dict(window=0), dict(window=2.5), dict(eps=-1e-5)):
        with pytest.raises(ValueError):
            Adacomp(sgd(0.01), **kwargs)


# --- no host synchronisation in observe() -------------------------------------------------------

READS = ("item", "tolist", "numpy", "__float__", "__int__", "__index__", "__bool__", "__array__", "cpu")


def count_host_reads(monkeypatch: pytest.MonkeyPatch) -> collections.Counter:
    """Count every Tensor method that copies a value to the host (a sync on an accelerator)."""
    calls: collections.Counter = collections.Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    original_to = torch.Tensor.to

    def to(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        targets = list(args) + list(kwargs.values())
        if any(str(t).startswith("cpu") for t in targets if isinstance(t, (str, torch.device))):
            calls["to(cpu)"] += 1
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    return calls


def test_dlrs_observe_never_reads_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    losses = [graph_loss(1.0 + 0.01 * i) for i in range(200)]
    expected = dlrs_lr(0.005, [float(x.detach()) for x in losses])
    opt = sgd(0.005)
    sched = DLRS(opt)
    calls = count_host_reads(monkeypatch)
    for loss in losses:
        sched.observe(loss)
    assert sum(calls.values()) == 0, calls
    sched.step()
    # The whole window comes back in one read (a .cpu() copy, if any, plus one conversion).
    assert calls["cpu"] + calls["to(cpu)"] <= 1, calls
    assert sum(n for name, n in calls.items() if name not in ("cpu", "to(cpu)")) == 1, calls
    monkeypatch.undo()
    assert lrs(opt) == [close(expected)]


def test_adacomp_reads_only_at_window_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    sched = Adacomp(sgd(0.01), window=10)
    calls = count_host_reads(monkeypatch)
    for i in range(9):
        sched.observe(graph_loss(1.0 - 0.01 * i))
    assert sum(calls.values()) == 0, calls
    sched.observe(graph_loss(0.5))
    assert sum(n for name, n in calls.items() if name not in ("cpu", "to(cpu)")) == 1, calls


def test_observe_works_on_tensors_without_data() -> None:
    # Any read of a meta tensor raises, so observe() provably leaves the values where they are.
    dlrs, ada = DLRS(sgd(0.01)), Adacomp(sgd(0.01), window=5)
    for i in range(4):
        dlrs.observe(torch.tensor(float(i), device="meta"))
        ada.observe(torch.tensor(float(i), device="meta"))


# --- Adacomp and Static -------------------------------------------------------------------------


def test_adacomp_windows_span_epochs() -> None:
    opt = sgd(0.01)
    sched = Adacomp(opt, window=3)
    for v in (1.0, 0.9, 0.8):
        sched.observe(v)
    lr1 = spec_adacomp(0.01, 1.0 - 0.8)  # first window: its first loss minus its last
    assert lr1 == close(0.010993646720183632)
    assert lrs(opt) == [close(lr1)] and sched.get_last_lr() == [close(lr1)]
    sched.step()  # epoch end: nothing happens, the window count carries on
    assert lrs(opt) == [close(lr1)]
    sched.observe(0.85)
    sched.observe(0.9)
    sched.step()
    assert lrs(opt) == [close(lr1)]
    sched.observe(0.95)  # third observation of window 2: previous last (0.8) minus this last
    lr2 = spec_adacomp(lr1, 0.8 - 0.95)
    assert lrs(opt) == [close(lr2)] and lr2 < lr1
    assert sched.last_decrease == close(0.8 - 0.95)
    for v in (0.95, 0.95, 0.95):
        sched.observe(torch.tensor(v, dtype=torch.float64))
    assert lrs(opt) == [close(lr2 / 2)]  # flat: D = 0.95 - 0.95


def test_static_never_changes_the_rate() -> None:
    opt = sgd(0.02, 0.3)
    sched = Static(opt)
    for epoch in range(3):
        for v in (1.0, 100.0, math.nan, 1e-9):
            sched.observe(v)
        sched.step()
        assert lrs(opt) == [0.02, 0.3] and sched.get_last_lr() == [0.02, 0.3]


# --- checkpoints --------------------------------------------------------------------------------


def test_dlrs_state_dict_mid_epoch_roundtrip() -> None:
    kwargs = dict(delta_d=0.4, delta_o=0.8, delta_i=0.3)
    epoch1, head, tail = [2.0, 1.5, 1.0], [1.2, 1.1], [1.0, 0.9]

    ref_opt = sgd(0.005, 0.07)
    ref = DLRS(ref_opt, **kwargs)
    for v in epoch1:
        ref.observe(torch.tensor(v))
    ref.step()
    lr1 = lrs(ref_opt)[0]
    for v in head + tail:
        ref.observe(torch.tensor(v))
    ref.step()

    opt = sgd(0.005, 0.07)
    sched = DLRS(opt, **kwargs)
    for v in epoch1:
        sched.observe(torch.tensor(v))
    sched.step()
    for v in head:
        sched.observe(torch.tensor(v))
    saved = roundtrip({"opt": opt.state_dict(), "sched": sched.state_dict()})

    opt2 = sgd(0.9, 0.9)  # wrong rates on purpose: the checkpoint must restore them
    sched2 = DLRS(opt2, **kwargs)
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    for v in tail:
        sched2.observe(torch.tensor(v))
    sched2.step()

    assert lrs(opt2) == lrs(ref_opt) and sched2.get_last_lr() == ref.get_last_lr()
    assert (sched2.last_slope, sched2.last_regime) == (ref.last_slope, ref.last_regime)
    # Sanity: dropping the saved half window would have given a different rate.
    assert dlrs_lr(lr1, tail, **kwargs) != pytest.approx(lrs(ref_opt)[0], rel=1e-6)


def test_state_dicts_saved_by_version_0_1_load() -> None:
    # The format of dlrs 0.1.0 (before the LRScheduler API), as in older trainer checkpoints.
    old_dlrs = {"last_lr": [0.006], "window": [1.0, 2.0], "last_slope": -0.5, "last_regime": "convergent",
                "hparams": dict(delta_d=0.5, delta_o=1.0, delta_i=0.3, min_lr=1e-7, max_lr=1.0)}
    opt = sgd(0.006)
    sched = DLRS(opt)
    sched.load_state_dict(roundtrip(old_dlrs))
    assert sched.delta_i == 0.3 and sched.last_epoch == 0 and sched.get_last_lr() == [0.006]
    sched.observe(1.5)
    sched.step()
    assert lrs(opt) == [close(dlrs_lr(0.006, [1.0, 2.0, 1.5], delta_i=0.3))]
    old_ada = {"last_lr": [0.01], "window": 4, "eps": 1e-5, "count": 1, "first": 1.0, "last": 1.0,
               "previous_last": None, "last_decrease": None}
    ada = Adacomp(sgd(0.01))
    ada.load_state_dict(old_ada)
    assert ada.window == 4 and ada.state_dict()["count"] == 1
    Static(sgd(0.01)).load_state_dict({"last_lr": [0.01]})


@pytest.mark.parametrize("split", [0, 2, 4, 6])  # before, inside the first window, at a boundary, inside the second
def test_adacomp_state_dict_mid_window_roundtrip(split: int) -> None:
    losses = [1.0, 0.7, 0.9, 0.6, 0.65, 0.5, 0.8, 0.7]
    ref_opt = sgd(0.01)
    ref = Adacomp(ref_opt, window=4)
    for v in losses:
        ref.observe(torch.tensor(v))
    lr1 = spec_adacomp(0.01, float(torch.tensor(1.0)) - float(torch.tensor(0.6)))
    assert lrs(ref_opt) == [close(spec_adacomp(lr1, float(torch.tensor(0.6)) - float(torch.tensor(0.7))))]

    opt = sgd(0.01)
    sched = Adacomp(opt, window=4)
    for v in losses[:split]:
        sched.observe(torch.tensor(v))
    saved = roundtrip({"opt": opt.state_dict(), "sched": sched.state_dict()})
    opt2 = sgd(0.5)
    sched2 = Adacomp(opt2, window=4)
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    for v in losses[split:]:
        sched2.observe(torch.tensor(v))
    assert lrs(opt2) == lrs(ref_opt) and sched2.get_last_lr() == ref.get_last_lr()


# --- a real optimizer ---------------------------------------------------------------------------


def toy_regression(param_groups: list[dict], epochs: int = 4) -> None:
    """Train a linear model with Adam + DLRS; check each epoch's rates against the rule and
    that Adam's state is the same before and after every sched.step()."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(64, generator=g)
    model = torch.nn.Linear(3, 1)
    groups = [{"params": [getattr(model, name)], "lr": lr} for name, lr in param_groups]
    opt = torch.optim.Adam(groups)
    sched = DLRS(opt)
    seen = [lrs(opt)]
    for _ in range(epochs):
        before, losses = lrs(opt), []
        for i in range(0, 64, 8):
            loss = torch.nn.functional.mse_loss(model(x[i : i + 8]).squeeze(1), y[i : i + 8])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.observe(loss)
            losses.append(float(loss.detach()))
        state = {p: (opt.state[p], dict(opt.state[p])) for p in model.parameters()}
        values = {p: {k: v.clone() for k, v in opt.state[p].items()} for p in model.parameters()}
        sched.step()
        assert lrs(opt) == [close(dlrs_lr(lr, losses)) for lr in before]
        for p in model.parameters():
            same_dict, entries = state[p]
            assert opt.state[p] is same_dict and set(opt.state[p]) == {"step", "exp_avg", "exp_avg_sq"}
            for key, tensor in entries.items():
                assert opt.state[p][key] is tensor and torch.equal(tensor, values[p][key])
        seen.append(lrs(opt))
    assert len({tuple(r) for r in seen}) == len(seen)  # the rate really moved every epoch


def test_dlrs_drives_adam_and_keeps_its_state() -> None:
    toy_regression([("weight", 0.05), ("bias", 0.05)])


def test_dlrs_drives_adam_param_groups_independently() -> None:
    toy_regression([("weight", 0.05), ("bias", 0.003)])


# --- torch.distributed (one process; the multi-process test lives elsewhere) ---------------------


@pytest.fixture
def gloo_group(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A one-rank gloo group; yields a counter of all_reduce calls."""
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    calls = collections.Counter()
    original = dist.all_reduce

    def counting_all_reduce(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["all_reduce"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(dist, "all_reduce", counting_all_reduce)
    try:
        yield calls
    finally:
        dist.destroy_process_group()


def test_dlrs_all_reduces_once_per_step(gloo_group: collections.Counter) -> None:
    opt = sgd(0.005)
    sched = DLRS(opt, distributed=True)
    expected = 0.005
    for epoch, window in enumerate(([2.0, 1.5, 1.0], [1.0, 4.0, 3.0], [3.0, 2.5, 2.0, 1.0])):
        for i, v in enumerate(window):
            sched.observe(torch.tensor(v) if i % 2 else v)  # tensors and floats mixed
        sched.step()
        expected = dlrs_lr(expected, window)
        assert lrs(opt) == [close(expected)]
        assert gloo_group["all_reduce"] == epoch + 1


def test_dlrs_skips_the_collective_for_a_single_rank_by_default(gloo_group: collections.Counter) -> None:
    # distributed=None: averaging over one rank is the identity, so no collective is issued.
    opt = sgd(0.005)
    sched = DLRS(opt)
    for v in (1.0, 3.0):
        sched.observe(torch.tensor(v))
    sched.step()
    assert lrs(opt) == [close(0.0045)] and gloo_group["all_reduce"] == 0


def test_adacomp_all_reduces_once_per_window(gloo_group: collections.Counter) -> None:
    opt = sgd(0.01)
    sched = Adacomp(opt, window=2, distributed=True)
    for v in (1.0, 0.5, 0.75, 0.25):
        sched.observe(torch.tensor(v))
    assert lrs(opt) == [close(spec_adacomp(spec_adacomp(0.01, 0.5), 0.25))]
    assert gloo_group["all_reduce"] == 2
