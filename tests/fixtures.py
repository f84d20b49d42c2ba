"""Tiny datasets in the real on-disk formats, for tests (the writers live in experiments.fixtures)."""

from __future__ import annotations

from pathlib import Path

from experiments.fixtures import fixture_arrays, write_cifar10, write_mnist

__all__ = ["make_mnist", "make_cifar10", "fixture_arrays"]


def make_mnist(root: str | Path, n_train: int, n_test: int) -> Path:
    """MNIST IDX files under ``root/MNIST/raw``, readable by torchvision.datasets.MNIST."""
    return write_mnist(root, n_train, n_test)


def make_cifar10(root: str | Path, n_train: int, n_test: int) -> Path:
    """CIFAR-10 pickle batches under ``root/cifar-10-batches-py``, readable by torchvision."""
    return write_cifar10(root, n_train, n_test)
