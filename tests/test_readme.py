"""The README's promises: its Python examples run, and the two top commands are the Makefile's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def block_with(word: str) -> str:
    """The one README Python block that mentions ``word``."""
    (block,) = [b for b in BLOCKS if word in b]
    return block


def printed_rates(out: str) -> list[float]:
    return [float(m.group(1)) for m in re.finditer(r"^\d+ \[([0-9.e-]+)\]", out, re.M)]


def test_readme_loop_runs_and_changes_the_rate(capsys) -> None:
    block = BLOCKS[0]  # the plain loop comes first
    assert len([line for line in block.splitlines() if line.strip()]) <= 16
    exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    rates = [float(re.search(r"\[([0-9.e-]+)\]", line).group(1)) for line in lines]
    assert rates[-1] != 5e-3  # DLRS moved the rate


def test_readme_warmup_then_dlrs(capsys) -> None:
    block = block_with("SequentialLR")
    assert len([line for line in block.splitlines() if line.strip()]) <= 16
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    rates = printed_rates(capsys.readouterr().out)
    assert len(rates) == 6
    # after epochs 0, 1: LinearLR; after epoch 2: the hand-over keeps 5e-3; then DLRS moves it
    assert rates[:3] == [pytest.approx(2.75e-3, rel=1e-12), pytest.approx(5e-3, rel=1e-12),
                         pytest.approx(5e-3, rel=1e-12)]
    assert all(r != pytest.approx(5e-3, rel=1e-9) for r in rates[3:])
    assert namespace["dlrs"].last_epoch == 3 and namespace["dlrs"].last_regime is not None


def test_readme_lightning_example(capsys, monkeypatch, tmp_path) -> None:
    try:
        import lightning  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":  # CI installs the extra: there it must run
            raise
        pytest.skip("needs the lightning extra: pip install -e '.[lightning]'")
    monkeypatch.chdir(tmp_path)
    exec(compile(block_with("lightning"), "README.md", "exec"), {})
    rate, regime = re.search(r"^\[([0-9.e-]+)\] (\w+)$", capsys.readouterr().out, re.M).groups()
    assert float(rate) != 5e-3 and regime in ("convergent", "stagnant", "divergent")


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "run"], ["make", "test"]]
