"""The trainer on image classification, end to end on fixture data (real MNIST / CIFAR-10 file
formats, random pixels), two epochs, with probes (tests/probes.py) on what it actually does:

* the model is in training mode in every training forward pass and in eval mode in every
  evaluation (a BatchNorm network, MobileNetV2, where the mode changes the result), and the
  BatchNorm statistics were updated by every training batch of every epoch;
* the composed config reaches the loaders: CIFAR-10 training batches are shuffled and augmented,
  MNIST training batches shuffled but not augmented, test batches neither, seen in the pixels;
* ``summary.json``'s best is the best row of ``metrics.csv``: the maximum accuracy for images,
  the minimum relative error for the PINN, with its epoch.

Configs are composed as the Makefile's smoke targets compose them (``+experiment=... +scale=smoke``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest
import torch

from conftest import compose_config, one_run_dir
from experiments.data import DATASETS
from experiments.fixtures import fixture_arrays, write_cifar10, write_mnist
from experiments.io import load_checkpoint
from experiments.tasks.images import ImageClassification
from experiments.trainer import train
from probes import Probe

N_TRAIN, N_TEST, BATCH, TEST_BATCH, EPOCHS = 24, 16, 8, 8, 2
BATCHES = -(-N_TRAIN // BATCH)
COMMON = [f"task.subset={N_TRAIN}", f"task.test_subset={N_TEST}", f"task.batch_size={BATCH}",
          f"task.test_batch_size={TEST_BATCH}", f"trainer.epochs={EPOCHS}", "task.download=false",
          "trainer.device=cpu", "trainer.progress=none"]
TORCHVISION = ["task.loader=torchvision", "task.num_workers=0"]
# id -> (dataset, overrides, augmented training batches expected)
CASES = {
    "fig8-cifar10-memory": ("cifar10", ["+experiment=fig8", "+scale=smoke", "model=mobilenetv2"], True),
    "table1-cifar10-torchvision": ("cifar10", ["+experiment=table1", "+scale=smoke", "model=mobilenetv2",
                                               *TORCHVISION], True),
    "fig5-mnist-memory": ("mnist", ["+experiment=fig5", "+scale=smoke", "model=mobilenetv2"], False),
    "fig9-mnist-torchvision": ("mnist", ["+experiment=fig9", "+scale=smoke", "model=mobilenetv2", *TORCHVISION],
                               False),
    # control: the pixel check below does see augmentation switched off on CIFAR-10
    "cifar10-augment-off": ("cifar10", ["task=cifar10", "model=mobilenetv2", "task.augment=false"], False),
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, n_train=N_TRAIN, n_test=N_TEST)
    write_cifar10(root, n_train=N_TRAIN, n_test=N_TEST)
    return root


def _read_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def run(request: pytest.FixtureRequest, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One probed two-epoch run per case (shared by the tests below)."""
    dataset, overrides, augmented = CASES[request.param]
    runs = tmp_path_factory.mktemp(request.param)
    cfg = compose_config([*overrides, *COMMON, f"paths.data={data_root}", f"paths.runs={runs}"], tiny=False)
    assert cfg.task.name == dataset and cfg.model.name == "mobilenetv2"
    with pytest.MonkeyPatch.context() as mp, Probe(mp, record_batches=True, modes=True) as probe:
        summary = train(cfg)
    run_dir = one_run_dir(runs)
    return SimpleNamespace(dataset=dataset, augmented=augmented, probe=probe, summary=summary, run_dir=run_dir,
                           rows=_read_rows(run_dir), cfg=cfg)


# ---- train / eval mode -------------------------------------------------------------------------
def test_model_trains_in_train_mode_and_evaluates_in_eval_mode(run: SimpleNamespace) -> None:
    modes = run.probe.forward_modes
    assert run.summary["status"] == "completed" and run.probe.evaluations == EPOCHS
    for epoch in range(EPOCHS):
        assert modes[("train", epoch, True)] > 0, f"no training forward pass in epoch {epoch + 1}"
        assert modes[("train", epoch, False)] == 0, f"modules in eval mode during training in epoch {epoch + 1}"
    for evaluation in range(EPOCHS):
        assert modes[("eval", evaluation, False)] > 0
        assert modes[("eval", evaluation, True)] == 0, f"modules in train mode during evaluation {evaluation + 1}"


def test_batchnorm_statistics_follow_every_training_batch(run: SimpleNamespace) -> None:
    """The result of the modes: BatchNorm counted every training batch of both epochs, and the
    evaluations (which would count test batches in train mode) none."""
    state = load_checkpoint(run.run_dir / "checkpoint.pt")["model"]
    tracked = {k: int(v) for k, v in state.items() if k.endswith("num_batches_tracked")}
    assert tracked and set(tracked.values()) == {EPOCHS * BATCHES}, tracked


# ---- the config reaches the loaders ------------------------------------------------------------
def _reference(dataset: str, n: int, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's first n images, normalised as SPEC §3 says, and their labels."""
    images, labels = fixture_arrays(dataset, n, train=train)
    spec = DATASETS[dataset]
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (spec.mean, spec.std))
    return (torch.as_tensor(images).float() / 255 - mean) / std, torch.as_tensor(labels)


def _identify(samples: torch.Tensor, reference: torch.Tensor, tol: float = 1e-4) -> list[Optional[int]]:
    """For each sample, the index of the reference image it equals (pixel for pixel), else None."""
    distance = (samples[:, None].float() - reference[None]).abs().flatten(2).amax(-1)
    best = distance.min(dim=1)
    return [int(i) if d < tol else None for d, i in zip(best.values.tolist(), best.indices.tolist())]


def test_training_batches_are_shuffled_and_augmented_as_configured(run: SimpleNamespace) -> None:
    assert bool(run.cfg.task.augment) == run.augmented  # what the preset asks for
    images, labels = _reference(run.dataset, N_TRAIN, train=True)
    orders = []
    for epoch in range(EPOCHS):
        batches = [b for e, b in run.probe.train_batches if e == epoch]
        assert len(batches) == BATCHES
        x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
        assert sorted(y.tolist()) == sorted(labels.tolist()), "every training image once per epoch"
        ids = _identify(x, images)
        if run.augmented:
            # a random crop (padding 4) and flip leaves an image unchanged with probability 1/162
            unchanged = sum(i is not None for i in ids)
            assert unchanged <= N_TRAIN // 4, f"{unchanged} of {N_TRAIN} training images were not augmented"
        else:
            assert None not in ids, "training images were changed, but augmentation is off"
            assert sorted(ids) == list(range(N_TRAIN))
            assert y.tolist() == labels[ids].tolist()
        orders.append(y.tolist() if run.augmented else ids)
    stored = labels.tolist() if run.augmented else list(range(N_TRAIN))
    assert all(order != stored for order in orders), "training batches in stored order: not shuffled"
    assert orders[0] != orders[1], "the same order in both epochs: not reshuffled per epoch"


def test_test_batches_are_neither_shuffled_nor_augmented(run: SimpleNamespace) -> None:
    images, _ = _reference(run.dataset, N_TEST, train=False)
    assert len(run.probe.eval_inputs) == EPOCHS
    for inputs in run.probe.eval_inputs:
        assert [len(x) for x in inputs] == [TEST_BATCH] * (N_TEST // TEST_BATCH)
        assert _identify(torch.cat(inputs), images) == list(range(N_TEST)), "test images changed or reordered"


# ---- summary.json's best -----------------------------------------------------------------------
def _check_best(summary: dict, rows: list[dict[str, str]], metric: str, pick) -> None:
    values = [float(r[metric]) for r in rows]
    best = pick(values)
    assert summary["best"][metric] == best
    assert summary["best"]["epoch"] == int(rows[values.index(best)]["epoch"])  # the first epoch that reached it
    assert summary["final"][metric] == values[-1]


def test_summary_best_is_the_highest_accuracy(run: SimpleNamespace) -> None:
    _check_best(run.summary, run.rows, "test_acc", max)
    assert json.loads((run.run_dir / "summary.json").read_text())["best"] == run.summary["best"]


def test_summary_best_picks_the_highest_accuracy_of_distinct_epochs(data_root: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Three epochs whose accuracies differ (the best in the middle): only the right direction
    and the right epoch pass."""
    accuracies = iter([40.0, 75.0, 60.0])
    real = ImageClassification.evaluate

    def evaluate(self, model):
        return {**real(self, model), "test_acc": next(accuracies)}

    monkeypatch.setattr(ImageClassification, "evaluate", evaluate)
    cfg = compose_config(["+experiment=fig5", "+scale=smoke", "model=mnist_cnn", *COMMON, "trainer.epochs=3",
                          f"paths.data={data_root}", f"paths.runs={tmp_path}"], tiny=False)
    summary = train(cfg)
    rows = _read_rows(one_run_dir(tmp_path))
    assert [float(r["test_acc"]) for r in rows] == [40.0, 75.0, 60.0]
    assert (summary["best"]["test_acc"], summary["best"]["epoch"]) == (75.0, 2)
    _check_best(summary, rows, "test_acc", max)
    on_disk = json.loads((one_run_dir(tmp_path) / "summary.json").read_text())
    assert on_disk["best"]["test_acc"] == 75.0 and on_disk["best"]["epoch"] == 2


def test_summary_best_is_the_lowest_pinn_error(tmp_path: Path) -> None:
    summary = train(compose_config(["trainer.epochs=4", "trainer.progress=none", f"paths.runs={tmp_path}"]))
    rows = _read_rows(one_run_dir(tmp_path))
    errors = [float(r["rel_error"]) for r in rows]
    assert len(set(errors)) > 1 and all(math.isfinite(e) for e in errors)
    _check_best(summary, rows, "rel_error", min)
