"""The schema's modules import each other in one direction: base <- the groups <- config <- the
package. Every import counts, also one under ``if TYPE_CHECKING:`` or inside a function (a type
checker and a later refactoring follow those too), so a rule between groups cannot quietly move
back into a group's module. And each module imports on its own, in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO, cli_env, scaled

SCHEMA = REPO / "experiments" / "schema"
PACKAGE = "experiments.schema"


def _module(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def schema_imports(folder: Path = SCHEMA) -> dict[str, set[str]]:
    """{module: the schema modules it imports anywhere in its text}."""
    modules = {_module(p): p for p in sorted(folder.glob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from .config import X, from . import config
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], *filter(None, [base])])
                found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle in ``graph`` (its modules in order, the first repeated at the end), or []."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_schema_has_no_import_circle() -> None:
    graph = schema_imports()
    assert set(graph) >= {f"{PACKAGE}.{m}" for m in ("base", "config", "model", "optimizer", "schedule", "task")}
    assert cycle(graph) == []
    groups = [f"{PACKAGE}.{m}" for m in ("base", "model", "optimizer", "schedule", "task")]
    assert all(f"{PACKAGE}.config" not in graph[g] for g in groups), graph


def test_a_planted_circle_is_found(tmp_path: Path) -> None:
    """The check itself: a group that imports config only for a type hint is a circle."""
    for path in SCHEMA.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    model = tmp_path / "model.py"
    model.write_text(model.read_text().replace(
        "from .base import", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .config import Config\n"
                            "from .base import", 1))
    assert cycle(schema_imports(tmp_path)) == [f"{PACKAGE}.config", f"{PACKAGE}.model", f"{PACKAGE}.config"]


def test_each_schema_module_imports_alone_in_a_fresh_interpreter() -> None:
    for path in sorted(SCHEMA.glob("*.py")):
        proc = subprocess.run([sys.executable, "-c", f"import {_module(path)}"], cwd=REPO, env=cli_env(),
                              capture_output=True, text=True, timeout=scaled(120))
        assert proc.returncode == 0, proc.stderr[-3000:]
