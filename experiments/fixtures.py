"""Tiny MNIST / Fashion-MNIST / CIFAR-10 copies written in the real on-disk formats.

Tests and ``scripts/bench_data.py`` use them so that the real torchvision parsers run without
network access. Pixels are random; labels cycle through 0..9 in a seeded order.
"""

from __future__ import annotations

import pickle
import struct
from functools import partial
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _images_and_labels(n: int, shape: tuple[int, ...], seed: int,
                       learnable: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Random pixels, or (``learnable``) noise whose brightness is 10 + 19 * label: a class a
    network can learn in a few steps, to check that training works, not only that it runs."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    if learnable:
        noise = rng.integers(0, 64, size=(n, *shape))
        brightness = 10 + 19 * labels.reshape(n, *[1] * len(shape)).astype(int)
        return np.clip(noise + brightness, 0, 255).astype(np.uint8), labels
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), labels


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX ('SN3 pascalvincent') file: magic 0x0000 08 <ndim>, big-endian int32 dims, raw uint8."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_mnist(root: str | Path, n_train: int, n_test: int, seed: int = 0, folder: str = "MNIST",
                learnable: bool = False) -> Path:
    """Write the four uncompressed MNIST IDX files under ``root/<folder>/raw``; return that folder.

    ``folder="FashionMNIST"`` gives Fashion-MNIST's layout (the same format, another folder)."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, split_seed in (("train", n_train, seed), ("t10k", n_test, seed + 1)):
        images, labels = _images_and_labels(n, (28, 28), split_seed, learnable)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


def _write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray, name: str) -> None:
    # The real batches are dicts with a (N, 3072) uint8 array in CHW-flattened order.
    batch = {
        "batch_label": name,
        "labels": [int(v) for v in labels],
        "data": images.reshape(len(images), -1),
        "filenames": [f"img_{i:05d}.png" for i in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar10(root: str | Path, n_train: int, n_test: int, seed: int = 0, learnable: bool = False) -> Path:
    """Write data_batch_1..5, test_batch and batches.meta under ``root/cifar-10-batches-py``."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = _images_and_labels(n_train, (3, 32, 32), seed, learnable)
    bounds = np.linspace(0, n_train, 6).astype(int)  # five nearly equal training batches
    for i in range(5):
        lo, hi = bounds[i], bounds[i + 1]
        _write_cifar_batch(folder / f"data_batch_{i + 1}", images[lo:hi], labels[lo:hi], f"training batch {i + 1} of 5")
    test_images, test_labels = _images_and_labels(n_test, (3, 32, 32), seed + 1, learnable)
    _write_cifar_batch(folder / "test_batch", test_images, test_labels, "testing batch 1 of 1")
    meta = {"label_names": CIFAR10_CLASSES, "num_cases_per_batch": int(bounds[1]), "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return folder


def fixture_arrays(dataset: str, n: int, train: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The (images N x C x H x W, labels) that ``write_*`` stores for a split, to check loaders against."""
    shape = (28, 28) if dataset == "mnist" else (3, 32, 32)
    images, labels = _images_and_labels(n, shape, seed if train else seed + 1)
    return (images[:, None] if dataset == "mnist" else images), labels.astype(np.int64)


def main(argv: list[str] | None = None) -> None:
    """``python -m experiments.fixtures --root DIR``: fixture MNIST, Fashion-MNIST and CIFAR-10 for smoke runs."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True,
                        help="data root to write MNIST/, FashionMNIST/ and cifar-10-batches-py/ into")
    parser.add_argument("--train", type=int, default=512, help="training images per dataset")
    parser.add_argument("--test", type=int, default=256, help="test images per dataset")
    args = parser.parse_args(argv)
    for write in (write_mnist, partial(write_mnist, folder="FashionMNIST"), write_cifar10):
        print(f"wrote {write(args.root, args.train, args.test)} (random pixels: a pipeline check, not data)")


if __name__ == "__main__":
    main()
