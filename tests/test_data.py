"""MNIST / CIFAR-10 loading, the in-memory loader and the image-classification task."""

from __future__ import annotations

import sys

import pytest
import torch
import torchvision
from fixtures import fixture_arrays, make_cifar10, make_mnist
from torch import nn

from experiments.data import (DATASETS, InMemoryLoader, TorchvisionLoader, load_split, open_dataset,
                              random_crop_flip, shard_indices, torchvision_transform)
from experiments.errors import DataMissingError, UserError
from experiments.schema import option
from experiments.tasks.base import TaskContext
from experiments.tasks.images import ImageClassification

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    make_mnist(path, 30, 12)
    make_cifar10(path, 23, 7)
    return path


@pytest.mark.parametrize("name,cls,shape", [("mnist", torchvision.datasets.MNIST, (1, 28, 28)),
                                            ("cifar10", torchvision.datasets.CIFAR10, (3, 32, 32))])
@pytest.mark.parametrize("train", [True, False])
def test_fixture_loads_through_torchvision(root, name, cls, shape, train):
    assert isinstance(open_dataset(name, root, train, download=False), cls)
    images, labels = load_split(name, root, train, download=False)
    n = (30 if name == "mnist" else 23) if train else (12 if name == "mnist" else 7)
    assert images.shape == (n, *shape) and images.dtype == torch.uint8
    assert labels.shape == (n,) and labels.dtype == torch.int64
    want_images, want_labels = fixture_arrays(name, n, train)
    assert torch.equal(images, torch.from_numpy(want_images))
    assert torch.equal(labels, torch.from_numpy(want_labels))


def test_subset_limit(root):
    images, labels = load_split("cifar10", root, True, download=False, limit=5)
    full_images, full_labels = load_split("cifar10", root, True, download=False)
    assert torch.equal(images, full_images[:5]) and torch.equal(labels, full_labels[:5])


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_normalisation_of_known_pixels(name):
    spec = DATASETS[name]
    images = torch.zeros(2, spec.channels, 4, 4, dtype=torch.uint8)
    images[1] = 255
    x, _ = next(iter(InMemoryLoader(images, torch.zeros(2, dtype=torch.int64), batch_size=2,
                                    mean=spec.mean, std=spec.std)))
    for c, (m, s) in enumerate(zip(spec.mean, spec.std)):
        assert torch.allclose(x[0, c], torch.full((4, 4), -m / s), atol=1e-6)
        assert torch.allclose(x[1, c], torch.full((4, 4), (1 - m) / s), atol=1e-6)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_memory_path_matches_torchvision_path(root, name):
    spec = DATASETS[name]
    images, labels = load_split(name, root, True, download=False)
    memory = InMemoryLoader(images, labels, batch_size=8, mean=spec.mean, std=spec.std, shuffle=True, seed=3)
    ds = open_dataset(name, root, True, False, torchvision_transform(name, augment=False))
    reference = TorchvisionLoader(ds, batch_size=8, shuffle=True, seed=3)
    pairs = list(zip(memory.epoch(2), reference.epoch(2), strict=True))
    assert len(pairs) == len(memory) == len(reference) == -(-len(labels) // 8)
    for (x, y), (x_ref, y_ref) in pairs:
        assert torch.equal(y, y_ref)
        assert torch.allclose(x, x_ref, atol=1e-5)


@pytest.mark.parametrize("name,download", [("mnist", False), ("cifar10", False), ("mnist", True)])
def test_missing_files_raise_one_line(tmp_path, monkeypatch, capsys, name, download):
    def offline(self):  # what torchvision does without network: noise, then an exception
        print("Downloading http://example.invalid ... Failed", file=sys.stderr)
        raise RuntimeError("Error downloading\nTraceback: urlopen error")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(DataMissingError) as info:
        load_split(name, tmp_path, True, download=download)
    message = str(info.value)
    assert "\n" not in message
    assert str(tmp_path) in message and DATASETS[name].folder in message
    assert all(f in message for f in DATASETS[name].files)
    if download:
        assert "download failed" in message
        assert "Failed" not in capsys.readouterr().err  # torchvision's own noise was swallowed


def test_corrupt_file_raises_one_line(tmp_path):
    raw = make_mnist(tmp_path, 10, 10)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08")
    with pytest.raises(DataMissingError, match="could not be read") as info:
        load_split("mnist", tmp_path, True, download=False)
    assert "\n" not in str(info.value)


def _ids(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images that carry their own index, so batches reveal which samples they hold."""
    return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous(), torch.arange(n)


def _loader(n: int, **kw) -> InMemoryLoader:
    images, labels = _ids(n)
    return InMemoryLoader(images, labels, mean=(0.0,), std=(1.0,), **{"batch_size": 4, **kw})


def test_memory_loader_deterministic_full_coverage_partial_batch():
    loader = _loader(10, shuffle=True, seed=7)
    epoch1 = [y for _, y in loader.epoch(1)]
    assert [len(y) for y in epoch1] == [4, 4, 2] and len(loader) == 3  # last partial batch kept
    assert torch.equal(torch.cat(epoch1).sort().values, torch.arange(10))  # every index once
    assert all(torch.equal(a, b) for a, b in zip(epoch1, [y for _, y in _loader(10, shuffle=True, seed=7).epoch(1)]))
    assert not torch.equal(torch.cat(epoch1), torch.cat([y for _, y in loader.epoch(2)]))
    assert not torch.equal(torch.cat(epoch1), torch.cat([y for _, y in _loader(10, shuffle=True, seed=8).epoch(1)]))
    for x, y in loader.epoch(1):  # images travel with their labels
        assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())
    assert torch.equal(torch.cat([y for _, y in _loader(10).epoch(5)]), torch.arange(10))  # no shuffle


def test_memory_loader_shards_disjointly():
    shards = [torch.cat([y for _, y in _loader(11, shuffle=True, seed=1, rank=r, world_size=2).epoch(3)])
              for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 5  # truncated to equal length
    assert not set(shards[0].tolist()) & set(shards[1].tolist())
    perm = shard_indices(11, seed=1, epoch=3, shuffle=True)
    assert torch.equal(shards[0], perm[0:10:2]) and torch.equal(shards[1], perm[1:10:2])


def test_crop_flip_is_a_crop_or_flip_of_the_original():
    x = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = random_crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    flips = 0
    for i in range(len(x)):
        found = [(t, l, f) for t in range(5) for l in range(5) for f in (False, True)
                 if torch.equal(out[i], (lambda c: c.flip(-1) if f else c)(padded[i, :, t:t + 8, l:l + 8]))]
        assert found, f"sample {i} is no crop/flip of its original"
        flips += found[0][2]
    assert 0 < flips < 64  # both flipped and unflipped samples occur
    again = random_crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    assert torch.equal(out, again)


def test_flip_of_known_image():
    x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    seen = {tuple(random_crop_flip(x, torch.Generator().manual_seed(s), padding=0).flatten().tolist())
            for s in range(20)}
    assert seen == {tuple(range(16)), tuple(x.flip(-1).flatten().tolist())}


def test_augmented_loader_keeps_shape_and_channels_last():
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    loader = InMemoryLoader(images, torch.arange(6), batch_size=4, mean=(0.5,) * 3, std=(0.25,) * 3,
                            shuffle=True, augment=True, seed=2, channels_last=True)
    batches = list(loader.epoch(0))
    assert [x.shape for x, _ in batches] == [(4, 3, 32, 32), (2, 3, 32, 32)]
    assert all(x.is_contiguous(memory_format=torch.channels_last) for x, _ in batches)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, loader.epoch(0)))  # same (seed, epoch)


def _task(root, dataset="mnist", seed=0, **over) -> ImageClassification:
    """The task of configs/task/<dataset>.yaml on the fixture files under ``root``, small batches."""
    cfg = option("task", dataset, **{"download": False, "batch_size": 8, "test_batch_size": 5, "num_workers": 0,
                                     **over})
    return ImageClassification(cfg, TaskContext(CPU, seed=seed, data_root=str(root)))


@pytest.mark.parametrize("loader", ["memory", "torchvision"])
def test_task_train_step_and_evaluate(root, loader):
    task = _task(root, loader=loader, subset=20, test_subset=9, seed=50)
    assert task.metric == "test_acc" and task.higher_is_better
    assert task.batches_per_epoch == 3  # 20 images, batches of 8
    model = task.build_model(option("model", "mnist_cnn"))
    batch = next(iter(task.train_batches(0)))
    assert batch[0].shape == (8, 1, 28, 28) and batch[1].dtype == torch.int64
    loss = task.loss(model, batch)
    loss.backward()
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    result = task.evaluate(model)
    assert set(result) == {"test_loss", "test_acc"} and 0.0 <= result["test_acc"] <= 100.0
    # evaluate over the 9 test images by hand
    x, y = load_split("mnist", root, False, download=False, limit=9)
    model.eval()
    spec = DATASETS["mnist"]
    xs = (x.float() / 255 - spec.mean[0]) / spec.std[0]
    with torch.no_grad():
        logits = model(xs)
    assert result["test_loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-4)
    assert result["test_acc"] == pytest.approx(100.0 * (logits.argmax(1) == y).float().mean().item())


def test_task_cifar_augmented_batches_deterministic(root):
    a, b = _task(root, "cifar10", seed=50), _task(root, "cifar10", seed=50)
    for (xa, ya), (xb, yb) in zip(a.train_batches(4), b.train_batches(4), strict=True):
        assert xa.shape[1:] == (3, 32, 32) and torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("over,match", [
    ({"batch_size": 0}, "task.batch_size"), ({"test_batch_size": -1}, "task.test_batch_size"),
    ({"loader": "dali"}, "task.loader"), ({"name": "imagenet"}, "task.name"),
    ({"subset": 0}, "task.subset"), ({"in_channels": 3}, "task.in_channels"),
])
def test_a_hand_built_task_is_validated_by_the_schema(root, over, match):
    with pytest.raises(UserError, match=match):
        _task(root, **over)


def test_task_missing_data_fails_early(tmp_path):
    with pytest.raises(DataMissingError):
        _task(tmp_path)
