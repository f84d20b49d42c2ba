"""The README's promises: the ten-line loop runs, and the two top commands are the Makefile's."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_loop_runs_and_changes_the_rate(capsys) -> None:
    block = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert len([line for line in block.splitlines() if line.strip()]) <= 16
    exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    rates = [float(re.search(r"\[([0-9.e-]+)\]", line).group(1)) for line in lines]
    assert rates[-1] != 5e-3  # DLRS moved the rate


def test_readme_starts_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "run"], ["make", "test"]]
