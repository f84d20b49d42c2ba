"""The "no schedule to tune" rivals in the one trainer: Schedule-Free AdamW and Prodigy.

Schedule-Free trains at one point (y) and is evaluated at another (x, the average): the trainer
calls ``optimizer.train()`` before the training steps and ``optimizer.eval()`` before evaluation
and checkpoints, and recomputes batch-norm statistics at x (the package's recipe). Evaluation must
see x, a checkpoint must hold x, and a resumed run must continue the same trajectory.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import schedulefree
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from conftest import CONFIG_DIR, TINY, compose_config, one_run_dir, read_metrics
from experiments.config_check import check_config
from experiments.fixtures import write_mnist
from experiments.io import load_checkpoint
from experiments.tasks.base import TaskContext
from experiments.tasks.helmholtz import Helmholtz
from experiments.tasks.images import ImageClassification
from experiments.trainer import Interrupted, train

SF = ["optimizer=schedule_free_adamw", "schedule=static"]
BATCHES = 4  # the tiny PINN of conftest.TINY: n_points=200 / batch_size=50


def _train(runs: Path, *overrides: str, tiny: bool = True) -> dict:
    return train(compose_config([f"paths.runs={runs}", *overrides], tiny=tiny))


def test_evaluation_and_checkpoints_see_the_evaluation_weights(tmp_path: Path) -> None:
    cfg = compose_config([f"paths.runs={tmp_path}", *SF, "trainer.epochs=3", "trainer.checkpoint_every=1"])
    assert train(cfg)["status"] == "completed"
    run_dir = one_run_dir(tmp_path)
    state = load_checkpoint(run_dir / "checkpoint.pt")
    assert state["optimizer"]["param_groups"][0]["train_mode"] is False, "the checkpoint was saved in train mode"

    config = check_config(cfg)
    task = Helmholtz(config.task, TaskContext(torch.device("cpu"), config.trainer.seed))
    model = task.build_model(config.model)
    model.load_state_dict(state["model"])
    model.eval()
    with torch.no_grad():
        at_x = task.evaluate(model)["rel_error"]
    assert float(read_metrics(run_dir)[-1]["rel_error"]) == at_x  # the row was measured at x

    # and x is not y: at the training point the same model scores differently (the test has teeth)
    optimizer = schedulefree.AdamWScheduleFree(model.parameters(), lr=float(cfg.optimizer.lr))
    optimizer.load_state_dict(state["optimizer"])
    optimizer.train()
    with torch.no_grad():
        assert task.evaluate(model)["rel_error"] != pytest.approx(at_x, rel=1e-6)


def _stop_at_batch(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    original, calls = Helmholtz.loss, [0]

    def loss(self, model, batch):
        calls[0] += 1
        if calls[0] == call:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, model, batch)

    monkeypatch.setattr(Helmholtz, "loss", loss)


@pytest.mark.parametrize("optimizer", ["schedule_free_adamw", "prodigy"])
@pytest.mark.parametrize("call", [3 * BATCHES, BATCHES + 2], ids=["last-batch", "mid-epoch"])
def test_an_interrupted_run_resumes_on_the_same_trajectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           optimizer: str, call: int) -> None:
    """Bit-exact, also mid-epoch: Schedule-Free's checkpoint holds x (for anyone who loads it), and
    the model at y beside it, which the resumed run continues from (the switch y -> x -> y alone
    rounds: 0.968393846197299 against 0.9683938466059986 after one more epoch here)."""
    overrides = [f"optimizer={optimizer}", "schedule=static", "trainer.epochs=8", "trainer.checkpoint_every=2"]
    assert _train(tmp_path / "whole", *overrides)["status"] == "completed"
    reference = read_metrics(one_run_dir(tmp_path / "whole"))

    _stop_at_batch(monkeypatch, call)
    with pytest.raises(Interrupted):
        _train(tmp_path / "resumed", *overrides)
    monkeypatch.undo()
    assert _train(tmp_path / "resumed", *overrides)["status"] == "completed"
    assert read_metrics(one_run_dir(tmp_path / "resumed")) == reference


def test_batch_norm_statistics_are_recomputed_at_the_evaluation_weights(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Before every evaluation: forward passes over training batches with the model in train mode,
    without gradients, after ``optimizer.eval()`` (so at x); none for Adam, none without batch norm."""
    write_mnist(tmp_path / "data", 24, 16)
    seen: list[tuple[bool, bool, bool]] = []  # (model.training, grad enabled, optimizer at x)
    original = ImageClassification.loss

    def loss(self, model, batch):
        at_x = any(g.get("train_mode") is False for g in optimizer_ref[0].param_groups) if optimizer_ref else False
        seen.append((model.training, torch.is_grad_enabled(), at_x))
        return original(self, model, batch)

    optimizer_ref: list = []
    original_init = schedulefree.AdamWScheduleFree.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        optimizer_ref.append(self)

    monkeypatch.setattr(ImageClassification, "loss", loss)
    monkeypatch.setattr(schedulefree.AdamWScheduleFree, "__init__", init)
    common = ["task=mnist", "model=mobilenetv2", "task.subset=24", "task.test_subset=16", "task.batch_size=8",
              "trainer.epochs=2", "task.download=false", f"paths.data={tmp_path / 'data'}", "trainer.device=cpu"]
    _train(tmp_path / "runs", *common, *SF, tiny=False)
    recalibration = [s for s in seen if s[0] and not s[1]]
    assert len(recalibration) == 2 * 3, seen  # 3 training batches, before each of the 2 evaluations
    assert all(at_x for _, _, at_x in recalibration)
    assert all(at_x is False for training, grad, at_x in seen if grad)  # the steps ran at y

    seen.clear()
    _train(tmp_path / "adam", *common, "optimizer=adam", "schedule=static", tiny=False)
    assert not [s for s in seen if s[0] and not s[1]]


@pytest.mark.parametrize("optimizer, schedule, allowed", [
    ("schedule_free_adamw", "static", True), ("schedule_free_adamw", "cosine", False),
    ("schedule_free_adamw", "dlrs", False), ("prodigy", "static", True), ("prodigy", "cosine", True),
    ("prodigy", "dlrs", False), ("prodigy", "adacomp", False), ("prodigy", "exponential", False),
])
def test_combinations_that_make_no_sense_are_refused(optimizer: str, schedule: str, allowed: bool) -> None:
    from experiments.errors import UserError

    cfg = compose_config([f"optimizer={optimizer}", f"schedule={schedule}"])
    if allowed:
        check_config(cfg)
    else:
        with pytest.raises(UserError, match=f"optimizer={optimizer} does not go with schedule={schedule}"):
            check_config(cfg)


# A relative decay torch has and the harness does not: one YAML, the class and its parameters only
RESTARTS = """name: cosine_restarts
_target_: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts
_partial_: true
T_0: 2
eta_min: 0.0
"""
# a new schedule that sets rates of its own: DLRS under another name, with other bounds
WIDE_DLRS = """defaults:
  - dlrs
  - _self_

name: dlrs_wide
max_lr: 2.0
"""


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A copy of configs/ with the two schedules above added (the repository's code untouched)."""
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    for name, text in (("cosine_restarts", RESTARTS), ("dlrs_wide", WIDE_DLRS)):
        assert not (CONFIG_DIR / "schedule" / f"{name}.yaml").exists(), f"{name} is in the repository already"
        (configs / "schedule" / f"{name}.yaml").write_text(text)
    return configs


def _compose_in(configs: Path, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        return compose(config_name="config", overrides=[*TINY, *overrides])


def test_a_new_relative_decay_is_one_yaml_and_runs_with_prodigy(configs: Path, tmp_path: Path) -> None:
    cfg = _compose_in(configs, ["optimizer=prodigy", "schedule=cosine_restarts", "trainer.epochs=3",
                                f"paths.runs={tmp_path / 'runs'}"])
    assert train(cfg)["status"] == "completed"
    rates = [float(row["lr"]) for row in read_metrics(one_run_dir(tmp_path / "runs"))]
    assert rates == pytest.approx([1.0, 0.5, 1.0])  # Prodigy's multiplier: down half a cosine, restarted at T_0=2


@pytest.mark.parametrize("optimizer, schedule, allowed", [
    ("prodigy", "dlrs_wide", False), ("schedule_free_adamw", "cosine_restarts", False), ("adam", "dlrs_wide", True),
    ("adam", "cosine_restarts", True)])
def test_new_schedules_pair_by_what_they_do_to_the_rate(configs: Path, optimizer: str, schedule: str,
                                                        allowed: bool) -> None:
    """Not by name: a schedule that sets rates of its own is refused with Prodigy in one line, whatever
    its name, and Schedule-Free still takes only a constant rate."""
    from experiments.errors import UserError

    cfg = _compose_in(configs, [f"optimizer={optimizer}", f"schedule={schedule}"])
    if allowed:
        check_config(cfg)
        return
    with pytest.raises(UserError) as refused:
        check_config(cfg)
    why = ("its lr is a multiplier of the step size it estimates, not a rate, and schedule=dlrs_wide sets rates of "
           "its own" if optimizer == "prodigy" else
           "it replaces the schedule (its averaging is the decay), and schedule=cosine_restarts scales optimizer.lr")
    fitting = "cosine or schedule=plateau or schedule=static or schedule=step" if optimizer == "prodigy" else "static"
    assert str(refused.value) == f"optimizer={optimizer} does not go with schedule={schedule}: {why}; use schedule={fitting}"


def test_prodigy_runs_at_its_own_default_multiplier() -> None:
    assert float(compose_config(["optimizer=prodigy"]).optimizer.lr) == 1.0
    assert float(compose_config(["optimizer=prodigy", "optimizer.lr=0.5"]).optimizer.lr) == 0.5
    assert float(compose_config(["optimizer=schedule_free_adamw"]).optimizer.lr) == 0.005  # the task's rate
