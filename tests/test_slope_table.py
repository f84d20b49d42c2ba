"""DLRS's slope kinds are one table, ``dlrs.rules.SLOPES``: the scheduler, the
pure ``dlrs_decision`` and the harness's schema all read it, so a slope added there is usable by
name everywhere, and ``dlrs_decision`` decides what the scheduler decides for every entry."""

from __future__ import annotations

import io
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import dlrs.rules
from conftest import REPO, compose_config, one_run_dir, read_metrics, scaled
from dlrs import DLRS
from dlrs.rules import SLOPES, Slope, SlopeEstimate, apply_dlrs_slope, dlrs_decision
from experiments.config_check import check_config
from experiments.errors import UserError
from experiments.trainer import train

pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")
WINDOWS = [[2.0, 1.5, 1.8, 1.0], [1.2, 0.9, 1.1, 0.7], [0.75, 0.8, math.nan, 0.6], [0.65, 0.9, 1.4, 2.6], [0.5]]


def sgd(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


# --- docs/extending.md, "A DLRS slope": its code block, run as written there -----------------------
RECIPE = next(block for block in re.findall(r"```python\n(.*?)```", (REPO / "docs" / "extending.md").read_text(), re.S)
              if "def halves_slope" in block)


@pytest.fixture
def halves(monkeypatch: pytest.MonkeyPatch) -> str:
    """The recipe's block, run with an optimizer for its last line; its entry in dlrs.rules.SLOPES
    lasts only for the test."""
    monkeypatch.setitem(SLOPES, "halves", None)  # undone (removed) after the test; the block sets it
    namespace = {"opt": sgd(0.005)}
    exec(compile(RECIPE, "docs/extending.md", "exec"), namespace)
    assert isinstance(SLOPES["halves"], Slope) and namespace["sched"].state_dict()["hparams"]["slope"] == "halves"
    return "halves"


def test_a_slope_added_to_the_table_drives_dlrs_by_name(halves: str) -> None:
    opt = sgd(0.005)
    sched = DLRS(opt, slope=halves)
    for v in (1.0, 3.0, 1.0, 3.0):  # halves: means 2 and 2 -> slope 0 (the paper's: 1, divergent)
        sched.observe(v)
    sched.step()
    assert (sched.last_slope, sched.last_regime, opt.param_groups[0]["lr"]) == (0.0, "stagnant", 0.005)
    for v in (3.0, 1.0, 2.0, 0.0):  # halves: means 2 and 1, over 1.5 (the paper's: -3 / 1.5)
        sched.observe(v)
    sched.step()
    want = apply_dlrs_slope(0.005, -1 / 1.5, delta_d=0.5, delta_o=1.0, delta_i=0.1, min_lr=1e-7, max_lr=1.0)[0]
    assert sched.last_slope == pytest.approx(-1 / 1.5, rel=1e-15) and opt.param_groups[0]["lr"] == want
    assert sched.state_dict()["hparams"]["slope"] == halves
    assert dlrs_decision(0.005, [3.0, 1.0, 2.0, 0.0], slope=halves).lr == want


def test_a_slope_added_to_the_table_is_a_harness_option(halves: str, tmp_path: Path) -> None:
    cfg = compose_config([f"paths.runs={tmp_path}", "trainer.epochs=2", "schedule=dlrs_lsq", f"schedule.slope={halves}"])
    assert train(cfg)["status"] == "completed"
    assert read_metrics(one_run_dir(tmp_path))[-1]["dlrs_regime"] in ("divergent", "stagnant", "convergent")


def test_a_slope_not_in_the_table_is_refused_in_one_line() -> None:
    with pytest.raises(UserError, match=r"^schedule.slope='halves' is not known; choose one of: paper, lsq, "
                                        r"epoch_mean$"):
        check_config(compose_config(["schedule=dlrs_lsq", "schedule.slope=halves"]))
    with pytest.raises(ValueError, match="slope must be one of paper, lsq, epoch_mean; got 'halves'"):
        DLRS(sgd(0.005), slope="halves")
    with pytest.raises(ValueError, match="slope must be one of"):
        dlrs_decision(0.005, [1.0, 2.0], slope="halves")


# --- every entry: the pure function decides what the scheduler decides ---------------------------
def counting_slope(losses: list[float], carry: Any) -> SlopeEstimate:
    """A stateful entry: the paper's slope, carrying how many windows it has seen."""
    seen = (carry or 0) + 1
    return SlopeEstimate(*dlrs.rules.window_slope(losses), seen)


@pytest.mark.filterwarnings("ignore:DLRS:UserWarning")  # the last window holds one loss, on purpose
@pytest.mark.parametrize("every", [None, 3])
def test_dlrs_decision_decides_what_the_scheduler_decides(every: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SLOPES, "counting", Slope(counting_slope))
    for slope in SLOPES:
        opt = sgd(0.005)
        sched = DLRS(opt, slope=slope, every=every, delta_o=0.5)
        losses = [x for w in WINDOWS for x in w]
        windows = WINDOWS if every is None else [losses[i:i + every] for i in range(0, len(losses) - every + 1, every)]
        lr, carry = 0.005, None
        for window in windows:
            for v in window:
                sched.observe(v)
            if every is None:
                sched.step()
            decision = dlrs_decision(lr, window, slope=slope, carry=carry, delta_o=0.5)
            lr, carry = decision.lr, decision.carry
            assert (opt.param_groups[0]["lr"], sched.last_slope, sched.last_regime, sched.last_skip_reason) == (
                lr, decision.slope, decision.regime, decision.skip_reason), (slope, window)
        assert lr != 0.005, slope  # the windows move every slope's rate
    assert carry == len(windows)  # the last entry, "counting", saw its carry every window


def test_the_carry_survives_a_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SLOPES, "counting", Slope(counting_slope))
    sched = DLRS(sgd(0.005), slope="counting")
    for window in WINDOWS[:2]:
        sched.step(window)
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    fresh = DLRS(sgd(0.005), slope="counting")
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    assert fresh.state_dict()["carry"] == 2


def test_every_needs_the_losses_the_slope_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SLOPES, "needs_four", Slope(counting_slope, min_losses=4))
    with pytest.raises(ValueError, match=r"every=3: .* no needs_four slope; use every >= 4 \(or slope='paper' or"):
        DLRS(sgd(0.005), slope="needs_four", every=3)
    assert DLRS(sgd(0.005), slope="needs_four", every=4).every == 4


def test_the_schema_reads_the_table_without_importing_torch() -> None:
    """dlrs imports its schedulers (and torch) on first use, so a config is checked, and a mistake
    reported, before the 2 s of torch's import (the command line fails fast)."""
    check = ("import sys\nfrom experiments.schema.schedule import DLRS\n"
             "assert DLRS(name='d', _target_='dlrs.DLRS', _partial_=True, warmup_epochs=0, warmup_start_factor=1.0, "
             "min_lr=1e-5, max_lr=1.0, delta_d=0.5, delta_o=1.0, delta_i=0.1, slope='lsq').slope == 'lsq'\n"
             "assert 'torch' not in sys.modules\nimport dlrs\nassert dlrs.DLRS.__module__ == 'dlrs.schedulers'\n")
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True, timeout=scaled(60))
