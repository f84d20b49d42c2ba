"""Each setting has one name and one place: the task sets its rate and length, a model or an
optimizer its own rate; old names point to the new one; every key the docs and messages name exists."""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import CONFIG_DIR, REPO, job_config
from experiments.errors import UserError
from experiments.run import check_command_line


@pytest.mark.parametrize(("task", "lr", "epochs"), [("helmholtz", 0.005, 1500), ("mnist", 0.01, 10),
                                                    ("fashion_mnist", 0.01, 10), ("cifar10", 0.005, 100)])
def test_the_task_sets_rate_and_length_in_their_one_place(task: str, lr: float, epochs: int) -> None:
    cfg = job_config([f"task={task}"])
    assert (cfg.optimizer.lr, cfg.trainer.epochs) == (lr, epochs)
    assert not {"lr", "epochs", "data_root"} & set(cfg.task), "a second name for the same setting"
    assert "lr" not in cfg.model
    assert job_config([f"task={task}", "optimizer=sgd"]).optimizer.lr == lr  # another optimizer keeps the rate
    assert job_config([f"task={task}", "schedule=adacomp"]).optimizer.lr == lr  # adacomp picks sgd, same rate
    explicit = job_config([f"task={task}", "optimizer.lr=0.123", "trainer.epochs=7", "optimizer=sgd"])
    assert (explicit.optimizer.lr, explicit.trainer.epochs) == (0.123, 7)  # the command line wins


def test_a_model_with_its_own_rate_sets_it_in_the_same_place() -> None:
    for task in ("mnist", "fashion_mnist"):
        cfg = job_config([f"task={task}", "model=mnist_cnn"])
        assert cfg.optimizer.lr == 1e-3 and "lr" not in cfg.model
        assert job_config([f"task={task}", "model=mnist_cnn", "optimizer.lr=0.02"]).optimizer.lr == 0.02
    assert job_config(["task=mnist", "model=mnist_cnn", "schedule=adacomp"]).optimizer.lr == 1e-3


def test_presets_set_the_length_and_sweeps_the_rate() -> None:
    assert job_config(["+experiment=fig2"]).trainer.epochs == 10000
    assert job_config(["+experiment=fig2", "trainer.epochs=50"]).trainer.epochs == 50
    images = job_config(["+experiment=lr_sensitivity_images", "optimizer.lr=0.05"])
    assert (images.task.name, images.optimizer.lr, images.trainer.epochs) == ("fashion_mnist", 0.05, 8)
    assert job_config(["+experiment=lr_sensitivity_images"]).optimizer.lr == 1e-3
    assert job_config(["+experiment=fig9", "schedule=adacomp"]).optimizer.lr == 0.01


@pytest.mark.parametrize(("old", "new"), [("task.lr=0.1", "optimizer.lr=..."), ("task.epochs=5", "trainer.epochs=..."),
                                          ("task.data_root=/x", "paths.data=..."), ("model.lr=0.1", "optimizer.lr=...")])
def test_old_names_point_to_the_one_name(old: str, new: str) -> None:
    with pytest.raises(UserError) as error:
        check_command_line(["task=mnist", old])
    assert new in str(error.value) and "\n" not in str(error.value)


def _all_keys() -> set[str]:
    """Every dotted key of every task, model, schedule and optimizer option (and the rest of the config)."""
    def paths(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, f"{prefix}{key}.")
        yield prefix.rstrip(".")

    keys: set[str] = set()
    for group in ("task", "schedule", "optimizer"):  # each option once: a group's keys do not depend on the others
        for option in sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml")):
            cfg = job_config([f"{group}={option}", "+scale=smoke"])
            keys |= set(paths(OmegaConf.to_container(cfg, resolve=False)))
    return keys


_KEY = re.compile(r"(?<![\w.+~/$-])((?:paths|task|model|schedule|optimizer|trainer)(?:\.[a-z_0-9]+)+)=")


def _python_strings(path: Path) -> str:
    parts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
    return "\n".join(parts)


def test_every_key_named_in_docs_and_messages_exists() -> None:
    """README, docs/, the Makefile, the notebook and every string in the code (error messages
    included) name settings as ``key.path=``: each must exist under that name."""
    sources = {p: p.read_text() for p in [REPO / "README.md", REPO / "Makefile", *sorted((REPO / "docs").glob("*.md")),
                                          REPO / "notebooks" / "inspect_results.ipynb"]}
    for folder in ("experiments", "scripts", "dlrs"):
        sources.update({p: _python_strings(p) for p in sorted((REPO / folder).rglob("*.py"))})
    keys = _all_keys()
    named = {(p.relative_to(REPO).as_posix(), k) for p, text in sources.items() for k in _KEY.findall(text)}
    assert len(named) > 40, "the pattern no longer finds the documented keys"
    unknown = sorted((where, key) for where, key in named if key not in keys)
    assert not unknown, f"settings named but not in the config: {unknown}"
    for where, text in sources.items():
        for old in ("task.lr=", "task.epochs=", "task.data_root=", "model.lr="):  # one name each now
            if where.name != "run.py":  # run.py names the old keys to point to the new ones
                assert old not in text, f"{where} still names {old}"
        # paths.runs is derived from paths.results, which is the documented one
        if where.suffix in (".md", ".ipynb") or "experiments" in where.parts:
            assert "paths.runs=" not in text, f"{where} names paths.runs= instead of paths.results="


def test_regime_names_are_the_same_in_readme_csv_and_code() -> None:
    from dlrs.rules import Regime

    names = set(typing.get_args(Regime))
    assert names == {"divergent", "stagnant", "convergent"}
    readme = (REPO / "README.md").read_text()
    assert all(f"({n})" in readme or f"`{n}`" in readme for n in names)
