"""MNIST, Fashion-MNIST and CIFAR-10: loading the real files, and two ways of batching them.

* ``InMemoryLoader``: the whole split lives on the training device as one uint8 tensor; batches are
  gathered, augmented (vectorised random crop + flip) and normalised on the device. No workers,
  no host-to-device copies per batch.
* ``TorchvisionLoader``: the textbook path (PIL transforms + ``DataLoader``), kept for comparison
  and as a reference the in-memory path is tested against.

Both visit the same sample order: a permutation seeded by (seed, epoch), sharded by rank.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from .errors import DataMissingError, UserError

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class DatasetSpec:
    title: str
    folder: str  # relative to the data root
    files: tuple[str, ...]
    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "MNIST", "MNIST/raw",
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        channels=1, size=28, mean=(0.1307,), std=(0.3081,)),
    # Zalando's Fashion-MNIST: MNIST's format and sizes, clothing instead of digits (offline on
    # Debian/Ubuntu: apt install dataset-fashion-mnist; `make data` copies it into place)
    "fashion_mnist": DatasetSpec(
        "Fashion-MNIST", "FashionMNIST/raw",
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        channels=1, size=28, mean=(0.2860,), std=(0.3530,)),
    "cifar10": DatasetSpec(
        "CIFAR-10", "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
        channels=3, size=32, mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010)),
}
CROP_PADDING = 4  # SPEC §3: random crop 32 with padding 4


def _torchvision_class(dataset: str) -> type:
    from torchvision import datasets

    if dataset == "mnist":
        return datasets.MNIST
    if dataset == "fashion_mnist":
        return datasets.FashionMNIST

    class CIFAR10Files(datasets.CIFAR10):
        # torchvision's CIFAR10 checks every batch's md5 even when reading. We check the files
        # exist (like its MNIST does), so re-packed copies and test fixtures parse too; the
        # download itself is still md5-checked.
        train_list = [[name, None] for name, _ in datasets.CIFAR10.train_list]
        test_list = [[name, None] for name, _ in datasets.CIFAR10.test_list]
        meta = {**datasets.CIFAR10.meta, "md5": None}

    return CIFAR10Files


def _spec(dataset: str) -> DatasetSpec:
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def _one_line(err: BaseException, limit: int = 160) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _entries(path: Path) -> set[Path]:
    """Every file and folder under ``path`` (itself included), or nothing if it does not exist."""
    if not path.exists():
        return set()
    return {path, *path.rglob("*")} if path.is_dir() else {path}


@contextlib.contextmanager
def _as_found_on_failure(root: Path, spec: DatasetSpec) -> Iterator[None]:
    """Undo what a failed download wrote: files and folders that were not there before (torchvision
    creates e.g. MNIST/raw/ and partial archives before it fails). What was there is left alone."""
    missing_top = next((p for p in reversed([root, *root.parents]) if not p.exists()), None)
    top = root / Path(spec.folder).parts[0]
    before = _entries(top) | ({*root.iterdir()} if root.is_dir() else set())  # archives land in root
    try:
        yield
    except BaseException:
        if missing_top is not None:  # all of it is new, from the first folder that did not exist
            shutil.rmtree(missing_top, ignore_errors=True)
        else:
            new = (_entries(top) | ({*root.iterdir()} if root.is_dir() else set())) - before
            for path in sorted(new, key=lambda p: len(p.parts), reverse=True):  # deepest first
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise


def open_dataset(dataset: str, root: str | Path, train: bool, download: bool, transform: Any = None) -> Any:
    """The torchvision dataset object for a split; DataMissingError (one line) if its files are absent.

    A failed lookup leaves the file system as it found it: no empty ``MNIST/raw`` folders behind.
    """
    spec = _spec(dataset)
    folder = Path(root) / spec.folder
    cls = _torchvision_class(dataset)
    missing = [f for f in spec.files if not (folder / f).is_file()]
    reason = ""
    with _as_found_on_failure(Path(root).absolute(), spec):
        if missing and download:
            if sys.stdout.isatty():  # feedback for a person waiting; logs keep just the outcome
                print(f"downloading {spec.title} into {root} ...", flush=True)
            try:  # torchvision prints progress and per-mirror failures; only our line may reach the user
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    cls(str(root), train=train, download=True)
            except Exception as err:  # no network, a mirror down, a bad checksum, ...
                reason = f" (download failed: {_one_line(err)})"
            missing = [f for f in spec.files if not (folder / f).is_file()]
        if missing:
            raise DataMissingError(
                f"{spec.title} not found{reason}: expected {', '.join(missing)} under {folder} "
                "(set paths.data=..., or run once with network access and task.download=true)")
    try:
        ds = cls(str(root), train=train, download=False, transform=transform)
    except Exception as err:  # truncated or foreign files
        raise DataMissingError(
            f"{spec.title} files under {folder} could not be read ({_one_line(err)}); "
            "delete them and download again") from None
    check_consistent(dataset, ds.data, ds.targets, f"{spec.title} {'training' if train else 'test'} files under {folder}")
    return ds


def check_consistent(dataset: str, images: Any, labels: Any, where: str, num_classes: int = 10) -> None:
    """Files that parse but disagree with each other (a different number of images and labels,
    images of the wrong size, labels outside the classes) fail here, before anything is written,
    not as an IndexError in the middle of training."""
    spec = _spec(dataset)
    shape = tuple(np.shape(images))
    expected = (spec.size, spec.size) if spec.channels == 1 else (spec.size, spec.size, spec.channels)
    n_labels = len(labels)
    problem = ""
    if shape[0] != n_labels:
        problem = f"{shape[0]} images but {n_labels} labels"
    elif shape[0] == 0:
        problem = "no images"
    elif shape[1:] != expected:
        problem = f"images of shape {'x'.join(map(str, shape[1:]))}, not {'x'.join(map(str, expected))}"
    else:
        values = np.asarray(labels)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= num_classes:
            problem = f"labels from {low} to {high}, outside 0..{num_classes - 1}"
    if problem:
        raise UserError(f"{where} are inconsistent: {problem}; delete them and download again "
                        "(or copy them again from a good source)")


def load_split(dataset: str, root: str | Path, train: bool, download: bool,
               limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 N x C x H x W, labels int64 N) of a split; only the first ``limit`` if given."""
    ds = open_dataset(dataset, root, train, download)
    data = torch.as_tensor(np.asarray(ds.data))
    # MNIST keeps N x H x W, CIFAR-10 N x H x W x C
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.contiguous(), labels


def derive_seed(*values: int) -> int:
    """A well-mixed 63-bit seed from a tuple such as (seed, epoch, rank)."""
    state = np.random.SeedSequence([v % 2**64 for v in values]).generate_state(1, np.uint64)[0]
    return int(state) & (2**63 - 1)


def shard_indices(n: int, *, seed: int, epoch: int, shuffle: bool, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """This rank's sample indices for an epoch: perm[rank::world_size], equal length on all ranks."""
    if shuffle:  # the same permutation on every rank: seeded by (seed, epoch) only
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, epoch)))
    else:
        perm = torch.arange(n)
    return shard(perm, rank, world_size)


def shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's part of an epoch's sample order: order[rank::world_size], equal length on all ranks."""
    return order[rank::world_size][: len(order) // world_size]


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = CROP_PADDING) -> torch.Tensor:
    """Per-sample random crop (zero padding) and horizontal flip of a B x C x H x W batch, in one gather.

    The small random tensors come from a CPU ``generator`` (reproducible on any device) and are
    moved to ``x.device``. The result has x's shape, in channels-last memory layout.
    """
    b, _, h, w = x.shape
    top = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    rows = top[:, None] + torch.arange(h)
    j = torch.arange(w)
    # a flipped crop reads the crop window's columns right to left
    cols = left[:, None] + torch.where(flip[:, None], w - 1 - j, j)
    dev = x.device
    padded = F.pad(x, (padding, padding, padding, padding))
    batch = torch.arange(b, device=dev)[:, None, None]
    # advanced indices around the channel slice put the channel last: B x H x W x C
    out = padded[batch, :, rows.to(dev)[:, :, None], cols.to(dev)[:, None, :]]
    return out.permute(0, 3, 1, 2)


class InMemoryLoader:
    """A whole split on the device; ``epoch(e)`` yields normalised (x, y) batches for this rank."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int,
                 mean: tuple[float, ...], std: tuple[float, ...], device: torch.device | str = "cpu",
                 shuffle: bool = False, augment: bool = False, seed: int = 0, rank: int = 0,
                 world_size: int = 1, channels_last: bool = False) -> None:
        self.device = torch.device(device)
        self.images = images.to(self.device)  # uint8: 4x smaller than float
        self.labels = labels.to(self.device)
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.channels_last = channels_last
        # (x / 255 - mean) / std  ==  x * scale - shift
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self._scale, self._shift = 1.0 / (255.0 * std_t), mean_t / std_t

    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        return len(self.labels) // self.world_size

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().mul_(self._scale).sub_(self._shift)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return x.contiguous(memory_format=fmt)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        idx = shard_indices(len(self.labels), seed=self.seed, epoch=epoch, shuffle=self.shuffle,
                            rank=self.rank, world_size=self.world_size).to(self.device)
        gen = torch.Generator().manual_seed(derive_seed(self.seed, epoch, self.rank, 1))
        for start in range(0, len(idx), self.batch_size):  # the last partial batch is kept
            b = idx[start:start + self.batch_size]
            x = self.images[b]
            if self.augment:
                x = random_crop_flip(x, gen)
            yield self.normalise(x), self.labels[b]

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)


def torchvision_transform(dataset: str, augment: bool) -> Any:
    """The PIL transform pipeline of the reference path (SPEC §3)."""
    from torchvision import transforms as T

    spec = _spec(dataset)
    steps = [T.RandomCrop(spec.size, padding=CROP_PADDING), T.RandomHorizontalFlip()] if augment else []
    return T.Compose([*steps, T.ToTensor(), T.Normalize(spec.mean, spec.std)])


class TorchvisionLoader:
    """The standard ``DataLoader`` path over a torchvision dataset, in the same order as InMemoryLoader.

    Augmentation randomness is seeded per (seed, epoch, rank): through the workers' base seed, and
    with ``num_workers=0`` (the transforms then run in this process, on the global torch RNG) by
    fetching each batch under a forked RNG whose state carries over from batch to batch, so the
    augmentation neither depends on nor disturbs what the training draws (dropout).
    """

    def __init__(self, dataset: Any, *, batch_size: int, device: torch.device | str = "cpu",
                 shuffle: bool = False, seed: int = 0, rank: int = 0, world_size: int = 1,
                 num_workers: int = 0, channels_last: bool = False, limit: int | None = None) -> None:
        for key, value, low in (("num_workers", num_workers, 0), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"task.{key} must be an integer >= {low}, got {value!r}")
        self.dataset, self.device = dataset, torch.device(device)
        self.n = len(dataset) if limit is None else min(limit, len(dataset))
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        self.channels_last = channels_last

    def __len__(self) -> int:
        return -(-(self.n // self.world_size) // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        order = shard_indices(self.n, seed=self.seed, epoch=epoch, shuffle=self.shuffle,
                              rank=self.rank, world_size=self.world_size).tolist()
        cuda = self.device.type == "cuda"
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=order,
                            num_workers=self.num_workers, pin_memory=cuda,
                            generator=torch.Generator().manual_seed(derive_seed(self.seed, epoch, self.rank, 1)))
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        batches = iter(loader)
        augment_rng = torch.Generator().manual_seed(derive_seed(self.seed, epoch, self.rank, 2)).get_state()
        while True:
            if self.num_workers == 0:
                with torch.random.fork_rng(devices=[]):
                    torch.set_rng_state(augment_rng)
                    batch = next(batches, None)
                    augment_rng = torch.get_rng_state()
            else:
                batch = next(batches, None)
            if batch is None:
                return
            x, y = batch
            x = x.to(self.device, non_blocking=cuda).contiguous(memory_format=fmt)
            yield x, y.to(self.device, non_blocking=cuda)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
