"""The README's and the library guide's promises: their Python examples run (the plain DLRS loop sets
exactly the rates the rule gives for the losses it saw, the other loops print what the text after
them says), and the README's two top commands are the Makefile's."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest
import torch

import dlrs
import dlrs.rules
from dlrs import dlrs_decision

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
GUIDE = README + "\n" + (REPO / "docs" / "library.md").read_text()  # where the text after a block is searched
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE, re.S)
DLRS_KEYS = ("delta_d", "delta_o", "delta_i", "min_lr", "max_lr")


def block_with(word: str) -> str:
    """The one Python block of the README or the library guide that mentions ``word``."""
    (block,) = [b for b in BLOCKS if word in b]
    return block


def printed_rates(out: str) -> list[float]:
    return [float(m.group(1)) for m in re.finditer(r"^\d+ \[([0-9.e-]+)\]", out, re.M)]


def _loop_block() -> str:
    """The first Python block of the README that builds a DLRS schedule and steps it (the plain loop)."""
    loops = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "DLRS(" in b and ".observe(" in b and ".step(" in b]
    assert loops, "no DLRS loop in README.md"
    return loops[0]


class _Recorder:
    """Wraps dlrs.DLRS: the schedules the block builds, the losses they observe, their rates per step."""

    def __init__(self) -> None:
        self.runs: list[dict] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real, runs = dlrs.DLRS, self.runs

        class RecordingDLRS(real):  # type: ignore[misc, valid-type]
            def __init__(self, optimizer, *args, **kwargs):
                super().__init__(optimizer, *args, **kwargs)
                self._record = {"optimizer": optimizer, "kwargs": dict(kwargs), "lr0": [g["lr"] for g in
                                                                                    optimizer.param_groups],
                                "windows": [[]], "lrs": [], "printed": []}
                runs.append(self._record)

            def observe(self, loss, *args, **kwargs):
                self._record["windows"][-1].append(float(loss.detach()) if torch.is_tensor(loss) else float(loss))
                return super().observe(loss, *args, **kwargs)

            def step(self, *args, **kwargs):
                result = super().step(*args, **kwargs)
                record = getattr(self, "_record", None)  # None: a step inside the constructor
                if record is not None:
                    record["lrs"].append([g["lr"] for g in record["optimizer"].param_groups])
                    record["windows"].append([])
                return result

        monkeypatch.setattr(dlrs, "DLRS", RecordingDLRS)


def _run_block(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, seed: int) -> tuple[dict, str]:
    recorder = _Recorder()
    recorder.install(monkeypatch)
    torch.manual_seed(seed)
    exec(compile(_loop_block(), "README.md", "exec"), {})
    assert len(recorder.runs) == 1, "the block builds one DLRS schedule"
    run = recorder.runs[0]
    run["windows"].pop()  # the empty window after the last step
    return run, capsys.readouterr().out


def test_readme_loop_sets_exactly_the_rates_of_the_rule(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    block = _loop_block()
    assert len([line for line in block.splitlines() if line.strip()]) <= 20, "a short example"
    run, out = _run_block(monkeypatch, capsys, seed=0)
    kwargs = {k: v for k, v in run["kwargs"].items() if k in DLRS_KEYS}
    epochs = len(run["lrs"])
    assert epochs >= 3 and all(len(w) >= 2 for w in run["windows"])
    lrs = list(run["lr0"])
    for window, after in zip(run["windows"], run["lrs"]):
        lrs = [dlrs_decision(lr, window, **kwargs).lr for lr in lrs]
        assert after == lrs  # exactly: the same floats, no tolerance
    assert lrs[0] != run["lr0"][0], "DLRS moved the rate"
    assert all(math.isfinite(lr) for lr in lrs)
    # what the block prints as the rate is the rate set (printed lists of rates, if it prints them)
    printed = [float(v) for v in re.findall(r"\[([-+0-9.e]+)\]", out)]
    if printed:
        assert printed == [lr[0] for lr in run["lrs"]]

    # seeded, the example is reproducible to the bit
    monkeypatch.undo()
    again, out_again = _run_block(monkeypatch, capsys, seed=0)
    assert (again["windows"], again["lrs"], out_again) == (run["windows"], run["lrs"], out)


def test_library_warmup_then_dlrs(capsys) -> None:
    block = block_with("SequentialLR")
    assert len([line for line in block.splitlines() if line.strip()]) <= 16
    namespace: dict = {}
    torch.manual_seed(0)  # DLRS's own rates then differ from 0.005 in the printed digits
    exec(compile(block, "docs/library.md", "exec"), namespace)
    printed = re.findall(r"^(\d+) ([0-9.e-]+)$", capsys.readouterr().out, re.M)
    assert [int(epoch) for epoch, _ in printed] == list(range(6))
    rates = [float(rate) for _, rate in printed]
    # what the text after the block says the example prints: the rate each epoch trained with
    text = GUIDE[GUIDE.index(block) + len(block):][:900]
    claim = re.search(r"It prints the rate each epoch trained with: ([0-9.]+), ([0-9.]+) and ([0-9.]+) in the "
                      r"warm-up epochs 0, 1\s+and 2", text)
    assert claim, "the text says what the warm-up example prints"
    assert rates[:3] == [float(x) for x in claim.groups()] == [0.0005, 0.00275, 0.005]
    assert re.search(r"epoch 3 trains at 0\.005 too", text) and rates[3] == 0.005
    assert all(r != 0.005 for r in rates[4:]), "epochs 4 and 5 train at the rates DLRS set"
    assert namespace["dlrs"].last_epoch == 3 and namespace["dlrs"].last_regime is not None


def test_library_lightning_example(capsys, monkeypatch, tmp_path) -> None:
    try:
        import lightning  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":  # CI installs the extra: there it must run
            raise
        pytest.skip("needs the lightning extra: pip install -e '.[lightning]'")
    monkeypatch.chdir(tmp_path)
    exec(compile(block_with("lightning"), "docs/library.md", "exec"), {})
    rate, regime = re.search(r"^\[([0-9.e-]+)\] (\w+)$", capsys.readouterr().out, re.M).groups()
    assert float(rate) != 5e-3 and regime in ("convergent", "stagnant", "divergent")


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "run"], ["make", "test"]]


def test_library_every_n_losses_loop(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The loop without epochs: it prints exactly the rates the rule gives, window after window of 50
    of the losses it observed, and what the text after it says it prints."""
    block = block_with("every=")
    assert ".step()" not in block.replace("opt.step()", ""), "no epochs, no scheduler step"
    recorder = _Recorder()
    recorder.install(monkeypatch)
    torch.manual_seed(0)
    exec(compile(block, "docs/library.md", "exec"), {})
    (run,) = recorder.runs
    losses = run["windows"][0]  # never stepped: every observed loss in one list
    kwargs = {k: v for k, v in run["kwargs"].items() if k in DLRS_KEYS}
    every, slope = run["kwargs"]["every"], run["kwargs"]["slope"]
    printed = re.findall(r"^(\d+) \[([0-9.e-]+)\] (\w+)$", capsys.readouterr().out, re.M)
    assert len(losses) == 200 and [int(n) for n, _, _ in printed] == [50, 100, 150, 200]
    lr, previous, want = run["lr0"][0], None, []
    for start in range(0, len(losses), every):
        window = losses[start:start + every]
        s, _ = (dlrs.rules.mean_change_slope(previous, window) if slope == "epoch_mean" else
                {"lsq": dlrs.rules.lsq_slope, "paper": dlrs.rules.window_slope}[slope](window))
        previous = dlrs.rules.finite_mean(window)
        if s is not None:
            lr, regime = dlrs.rules.apply_dlrs_slope(lr, s, **{k: kwargs.get(k, d) for k, d in
                                                              (("delta_d", 0.5), ("delta_o", 1.0), ("delta_i", 0.1),
                                                               ("min_lr", 1e-7), ("max_lr", 1.0))})
        want.append((repr(lr), regime if s is not None else "None"))
    assert [(rate, regime) for _, rate, regime in printed] == want
    text = GUIDE[GUIDE.index(block) + len(block):][:400]
    assert "It prints the rate after each window of 50 losses: `50 [0.005] None` first" in text
    assert printed[0][1:] == ("0.005", "None") and len({rate for _, rate, _ in printed}) > 1
