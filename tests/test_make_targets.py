"""`make help` lists the targets the README names, and each target runs what it promises."""

from __future__ import annotations

import subprocess

from conftest import REPO, scaled


def _make(*args: str) -> str:
    proc = subprocess.run(["make", "-s", *args], cwd=REPO, capture_output=True, text=True, timeout=scaled(60))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_help_lists_the_first_hour_targets_and_readme_names_them() -> None:
    listed = {line.split("\t")[0] for line in _make("help").splitlines()}
    assert {"help", "run", "test", "smoke", "notebook", "report"} <= listed
    readme = (REPO / "README.md").read_text()
    for target in ("make help", "make smoke", "make notebook", "make run"):
        assert f"`{target}" in readme


def test_make_targets_run_what_they_promise() -> None:
    dry = _make("-n", "-B", "-o", ".venv/.installed", "run", "smoke", "notebook")  # print, never set up
    assert ".venv/bin/python -m experiments.demo --epochs 1500" in dry
    assert "python -m experiments.fixtures --root results/smoke/data" in dry
    assert dry.count("+scale=smoke") == 2 and "make_report.py smoke" in dry
    assert 'pip install -q -e ".[notebook]"' in dry and "jupyter notebook" in dry
    setup = _make("-n", "-B", "setup")
    assert "notebook" not in setup  # Jupyter only on demand
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("notebook") for dep in extras["notebook"])


def test_notebook_says_how_to_open_it() -> None:
    import nbformat

    nb = nbformat.read(REPO / "notebooks" / "inspect_results.ipynb", as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "make notebook" in nb.cells[0].source
