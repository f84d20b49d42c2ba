"""The suite's one timeout policy (tests/conftest.py), kept by a check of the tests' own source:
every wait on another process has a timeout, scaled from TEST_TIMEOUT_SCALE with ``scaled()``,
and pytest-timeout is the per-test backstop."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

import conftest

TESTS = Path(__file__).resolve().parent
SUBPROCESS_WAITS = {"run", "call", "check_call", "check_output"}  # subprocess.<name>(...)
PROCESS_WAITS = {"wait", "communicate"}  # <process>.<name>(...)


def _waits_without_a_scaled_timeout(path: Path) -> list[str]:
    source = path.read_text()
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
        if not ((name in SUBPROCESS_WAITS and owner == "subprocess") or name in PROCESS_WAITS
                or name == "NotebookClient"):
            continue
        timeout = next((k.value for k in node.keywords if k.arg == "timeout"), None)
        if timeout is None or "scaled(" not in ast.unparse(timeout):
            bad.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:100]}")
    return bad


def test_every_wait_on_another_process_has_a_scaled_timeout() -> None:
    bad = [line for path in sorted(TESTS.glob("*.py")) for line in _waits_without_a_scaled_timeout(path)]
    assert bad == [], "use timeout=scaled(...) (tests/conftest.py):\n" + "\n".join(bad)


def test_the_checker_sees_a_missing_timeout(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import subprocess\nsubprocess.run(['true'])\nproc.wait(timeout=5)\n"
                      "subprocess.run(['true'], timeout=scaled(5))\n")
    assert [line.split(":")[1] for line in _waits_without_a_scaled_timeout(sample)] == ["2", "3"]


def test_timeouts_scale_from_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert conftest.scaled(10) == 10 * conftest.TIMEOUT_SCALE
    monkeypatch.setenv("TEST_TIMEOUT_SCALE", "2.5")
    assert conftest._timeout_scale() == 2.5
    for wrong in ("0", "-1", "fast"):
        monkeypatch.setenv("TEST_TIMEOUT_SCALE", wrong)
        with pytest.raises(pytest.UsageError):
            conftest._timeout_scale()


def test_pytest_timeout_is_the_per_test_backstop(pytestconfig: pytest.Config) -> None:
    project = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())
    assert any(dep.startswith("pytest-timeout") for dep in project["project"]["optional-dependencies"]["test"])
    assert float(project["tool"]["pytest"]["ini_options"]["timeout"]) > 0
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed (pip install -e '.[test]')"
