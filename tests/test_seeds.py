"""A seed is what the tables say it is: ``trainer.seed`` alone sets the initial weights, the PINN's
collocation points, the batch order and the augmentation. Built the way the trainer builds a run
(``Trainer._build`` from the composed config): the same seed repeats, two seeds differ, in each of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import compose_config
from experiments.config_check import check_config
from experiments.fixtures import write_cifar10
from experiments.trainer import DistEnv, Trainer


def _built(tmp_path: Path, seed: int, overrides: list[str], tiny: bool = True) -> Trainer:
    cfg = compose_config([f"trainer.seed={seed}", f"paths.results={tmp_path}", "trainer.device=cpu", *overrides],
                         tiny=tiny)
    trainer = Trainer(check_config(cfg), DistEnv(), torch.device("cpu"))
    trainer._build()
    return trainer


def _weights(trainer: Trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


def _same_and_different(values: list, equal) -> None:
    first, again, other = values
    assert equal(first, again), "the same seed did not repeat"
    assert not equal(first, other), "two seeds gave the same"


def test_the_pinn_seed_sets_weights_points_and_batch_order(tmp_path: Path) -> None:
    runs = [_built(tmp_path, seed, ["task.shuffle=true"]) for seed in (50, 50, 51)]
    _same_and_different([_weights(t) for t in runs], torch.equal)
    _same_and_different([t.task.points for t in runs], torch.equal)
    _same_and_different([torch.cat(list(t.task.train_batches(3))) for t in runs], torch.equal)


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_cifar10(root, 32, 8)
    return root


@pytest.mark.parametrize("loader", ["memory", "torchvision"])
def test_the_image_seed_sets_weights_order_and_augmentation(tmp_path: Path, cifar_root: Path, loader: str) -> None:
    def build(seed: int, augment: bool) -> Trainer:
        return _built(tmp_path, seed, ["task=cifar10", "model=mobilenetv2", f"paths.data={cifar_root}",
                                       "task.download=false", "task.batch_size=8", f"task.loader={loader}",
                                       "task.num_workers=0", f"task.augment={str(augment).lower()}"], tiny=False)

    runs = [build(seed, augment=True) for seed in (50, 50, 51)]
    _same_and_different([_weights(t) for t in runs], torch.equal)
    _same_and_different([torch.cat([y for _, y in t.task.train_batches(2)]) for t in runs], torch.equal)

    # augmentation alone: every training image made the same, so only the crops and flips can differ
    for trainer in runs:
        data = trainer.task._train
        if loader == "memory":
            data.images[:] = data.images[0].clone()
        else:
            data.dataset.data[:] = data.dataset.data[0].copy()
    _same_and_different([next(iter(t.task.train_batches(2)))[0] for t in runs], torch.equal)
