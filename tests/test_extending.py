"""docs/extending.md's promises, run as written there: a torch scheduler is one YAML file, an image
model is its Python file and its YAML; neither touches the repository's code. The files are
taken from the document's code blocks (each starts with a comment naming its path) and put in a
copy of configs/ and, for the model, in a folder added to the ``models`` package."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import experiments.tasks
import models
from conftest import CONFIG_DIR, REPO, one_run_dir, read_metrics
import experiments.schema.task
from experiments.errors import UserError
from experiments.schema.task import TASKS
from experiments.fixtures import write_mnist
from experiments.io import load_checkpoint
from experiments.trainer import train

# a block that is a file: its path in the first comment (after the @package line Hydra wants first)
BLOCK = re.compile(r"```(?:yaml|python)\n((?:# @package \S+\n)?)# (\S+)\n(.*?)```", re.S)


@pytest.fixture
def extended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """configs/ with the document's YAML files added, its models/ files importable as models.* and its
    experiments/tasks/ files as experiments.tasks.*."""
    configs, model_files, task_files = tmp_path / "configs", tmp_path / "models", tmp_path / "experiments" / "tasks"
    shutil.copytree(CONFIG_DIR, configs)
    model_files.mkdir()
    task_files.mkdir(parents=True)
    files = {path: package + text for package, path, text in BLOCK.findall((REPO / "docs" / "extending.md").read_text())}
    assert set(files) >= {"configs/schedule/multistep.yaml", "configs/optimizer/rmsprop.yaml", "models/tiny_net.py",
                          "configs/model/tiny_net.yaml", "experiments/tasks/sine.py", "configs/task/sine.yaml"}
    for path, text in files.items():
        assert not (REPO / path).exists(), f"{path} is in the repository: the test would not add it"
        (tmp_path / path).write_text(text)
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(model_files)])
    monkeypatch.setattr(experiments.tasks, "__path__", [*experiments.tasks.__path__, str(task_files)])
    return configs


def _compose(configs: Path, overrides: list[str]):
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


PINN = ["task.n_points=200", "task.batch_size=50", "trainer.epochs=3", "trainer.device=cpu", "trainer.progress=none"]


def test_a_torch_scheduler_is_one_yaml_file(extended: Path, tmp_path: Path) -> None:
    cfg = _compose(extended, ["schedule=multistep", "schedule.milestones=[2]", *PINN,
                              f"paths.runs={tmp_path / 'runs'}"])
    assert train(cfg)["status"] == "completed"
    rates = [float(row["lr"]) for row in read_metrics(one_run_dir(tmp_path / "runs"))]
    assert rates == pytest.approx([0.005, 0.005, 0.0005])  # gamma 0.1 after the milestone, epoch 2


@pytest.mark.parametrize(("override", "expected"), [
    ("+schedule.milestone=[2]", r"^schedule.milestone is not a known setting; schedule has: .*milestones"),
    ("~schedule.milestones", r"^schedule.milestones is missing"),
])
def test_its_keys_are_checked_against_the_class(extended: Path, tmp_path: Path, override: str, expected: str) -> None:
    cfg = _compose(extended, ["schedule=multistep", override, *PINN, f"paths.runs={tmp_path / 'runs'}"])
    with pytest.raises(UserError, match=expected):
        train(cfg)
    assert not (tmp_path / "runs").exists()


def test_a_torch_optimizer_is_one_yaml_file(extended: Path, tmp_path: Path) -> None:
    cfg = _compose(extended, ["optimizer=rmsprop", "schedule=static", *PINN, f"paths.runs={tmp_path / 'runs'}"])
    assert train(cfg)["status"] == "completed"
    saved = OmegaConf.load(one_run_dir(tmp_path / "runs") / "config.yaml")
    assert saved.optimizer._target_ == "torch.optim.RMSprop" and saved.optimizer.lr == 0.005  # the task's rate
    assert [float(row["lr"]) for row in read_metrics(one_run_dir(tmp_path / "runs"))] == [0.005] * 3


def test_an_image_model_is_its_file_and_its_yaml(extended: Path, tmp_path: Path) -> None:
    write_mnist(tmp_path / "data", n_train=24, n_test=16)
    cfg = _compose(extended, ["task=mnist", "model=tiny_net", "task.download=false", "task.batch_size=8",
                              "task.test_batch_size=8", "trainer.epochs=1", "trainer.device=cpu",
                              "trainer.progress=none", f"paths.data={tmp_path / 'data'}",
                              f"paths.runs={tmp_path / 'runs'}"])
    assert train(cfg)["status"] == "completed"
    (row,) = read_metrics(one_run_dir(tmp_path / "runs"))
    assert 0.0 <= float(row["test_acc"]) <= 100.0 and float(row["train_loss"]) > 0
    # the task's in_channels reached the model: a 3-channel head would not take MNIST's one channel
    state = load_checkpoint(one_run_dir(tmp_path / "runs") / "checkpoint.pt")
    assert tuple(state["model"]["head.weight"].shape) == (10, 1)


def test_a_task_is_its_schema_its_class_and_its_yaml(extended: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema class of the page, added to TASKS as the page says; the class and the YAML as files."""
    (schema,) = re.findall(r"```python\n# in experiments/schema/task.py.*?\n(.*?)```",
                           (REPO / "docs" / "extending.md").read_text(), re.S)
    namespace = vars(experiments.schema.task).copy()
    exec(compile(schema, "docs/extending.md", "exec"), namespace)
    monkeypatch.setitem(TASKS.schemas, "sine", namespace["Sine"])
    cfg = _compose(extended, ["task=sine", "schedule=dlrs", "trainer.epochs=60", "trainer.progress=none",
                              "trainer.device=cpu", f"paths.runs={tmp_path / 'runs'}"])
    assert train(cfg)["status"] == "completed"
    rows = read_metrics(one_run_dir(tmp_path / "runs"))
    assert one_run_dir(tmp_path / "runs").name.startswith("sine-p2_pinn_mlp_dlrs_adam")
    errors = [float(row["rel_error"]) for row in rows]
    assert len(rows) == 60 and errors[-1] < 0.5 * errors[0]  # it learns
    # the schema's constraints hold for the new task too: one line, nothing written
    with pytest.raises(UserError, match=r"^task.periods must be a finite number > 0, got -1"):
        train(_compose(extended, ["task=sine", "task.periods=-1", f"paths.runs={tmp_path / 'other'}"]))
    assert not (tmp_path / "other").exists()
