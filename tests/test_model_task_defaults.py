"""Every model x task pair that the command line accepts trains with its defaults.

"Accepted" is decided by the config check itself (a new model or task is included without editing
this file); "trains" means that with the pair's own optimizer, rate and schedule (task config, then
configs/model_rate/) twelve steps on images whose class shows in their brightness bring the
training loss well below its first epoch and below chance, and evaluation runs. A default rate far too high for its
network fails here. Pairs whose training config is the same (MNIST and Fashion-MNIST: the same
images sizes, rates and schedules) run once. Real data: tests/test_real_images.py.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from conftest import compose_config, one_run_dir
from experiments.config_check import check_config
from experiments.errors import UserError
from experiments.fixtures import write_cifar10, write_mnist
from experiments.schema import group_options
from experiments.trainer import train

# twelve steps in two batches an epoch (so DLRS acts): enough to show a rate that learns, small
# enough for two shared CPU cores
SMALL = ["trainer.epochs=6", "task.subset=10", "task.batch_size=5", "task.test_subset=5",
         "task.test_batch_size=5", "task.download=false", "trainer.device=cpu", "trainer.progress=none",
         "trainer.checkpoint_every=0"]
# MobileNetV2's batch norm learns within those twelve steps from batches of 10, not of 5
LARGER_BATCHES = {"mobilenetv2": ["task.subset=20", "task.batch_size=10", "task.test_subset=10", "task.test_batch_size=10"]}


def accepted_pairs() -> list[tuple[str, str]]:
    pairs = []
    for task in group_options("task"):
        for model in group_options("model"):
            try:
                check_config(compose_config([f"task={task}", f"model={model}"], tiny=False))
            except UserError:
                continue
            pairs.append((task, model))
    return pairs


def training_key(task: str, model: str) -> tuple:
    """What a short run on fixture images depends on (MNIST and Fashion-MNIST share it)."""
    cfg = compose_config([f"task={task}", f"model={model}"], tiny=False)
    return (model, cfg.task.in_channels, cfg.task.num_classes, cfg.task.augment, cfg.optimizer.name,
            cfg.optimizer.lr, cfg.schedule.name)


PAIRS = accepted_pairs()
IMAGE_RUNS: dict[tuple, list[tuple[str, str]]] = {}
for _pair in PAIRS:
    if _pair[0] != "helmholtz":
        IMAGE_RUNS.setdefault(training_key(*_pair), []).append(_pair)


def test_the_accepted_pairs_are_the_ones_the_models_fit() -> None:
    """The list the test below runs: the PINN on the Helmholtz task only, the MNIST CNN on 28x28 images only."""
    image_models = {"simple_dla", "vgg19", "resnet18", "googlenet", "mobilenetv2"}
    expected = {("helmholtz", "pinn_mlp")} | {(t, m) for t in ("mnist", "fashion_mnist", "cifar10") for m in image_models} \
        | {("mnist", "mnist_cnn"), ("fashion_mnist", "mnist_cnn")}
    assert set(PAIRS) >= expected and all(m != "pinn_mlp" or t == "helmholtz" for t, m in PAIRS)


@pytest.fixture(scope="module")
def learnable_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("learnable")
    for folder in ("MNIST", "FashionMNIST"):
        write_mnist(root, n_train=64, n_test=32, folder=folder, learnable=True)
    write_cifar10(root, n_train=64, n_test=32, learnable=True)
    return root


@pytest.mark.parametrize("pairs", list(IMAGE_RUNS.values()),
                         ids=["+".join(f"{t}-{m}" for t, m in pairs) for pairs in IMAGE_RUNS.values()])
def test_image_pairs_learn_with_their_defaults(pairs: list[tuple[str, str]], learnable_data: Path,
                                               tmp_path: Path) -> None:
    task, model = pairs[0]
    cfg = compose_config([f"task={task}", f"model={model}", *SMALL, *LARGER_BATCHES.get(model, []),
                          f"paths.data={learnable_data}", f"paths.runs={tmp_path}"], tiny=False)
    assert train(cfg)["status"] == "completed"
    with open(one_run_dir(tmp_path) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train_loss"]) for r in rows]
    where = f"{pairs} at {cfg.optimizer.name} lr={cfg.optimizer.lr}, schedule={cfg.schedule.name}: train losses {losses}"
    assert all(math.isfinite(v) for v in losses), where
    # below its start, and below chance (ln 10): a rate that blows up in epoch 1 and then falls is no pass
    assert min(losses[-2:]) < 0.8 * losses[0] and min(losses[-2:]) < math.log(10), where
    assert all(0.0 <= float(r["test_acc"]) <= 100.0 and float(r["test_loss"]) > 0 for r in rows), where
    if cfg.schedule.name == "dlrs":  # two batch losses an epoch: the rule acted
        assert all(r["dlrs_regime"] in ("divergent", "stagnant", "convergent") for r in rows), where


def test_pinn_learns_with_its_defaults(tmp_path: Path) -> None:
    """The one PINN pair: its default rate brings the residual loss down by orders of magnitude."""
    assert ("helmholtz", "pinn_mlp") in PAIRS
    cfg = compose_config(["task=helmholtz", "model=pinn_mlp", "trainer.epochs=60", "task.subset=500",
                          "task.batch_size=100", "task.frequency=250", "trainer.progress=none",
                          "trainer.checkpoint_every=0", f"paths.runs={tmp_path}"], tiny=False)
    assert train(cfg)["status"] == "completed"
    with open(one_run_dir(tmp_path) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.01 * losses[0], losses
