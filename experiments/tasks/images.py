"""Image classification on MNIST / CIFAR-10 (SPEC §3): cross-entropy, test accuracy in percent."""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..builders import build_model
from ..data import DATASETS, InMemoryLoader, TorchvisionLoader, load_split, open_dataset, torchvision_transform
from ..schema.model import Model
from ..schema.task import ImageTask
from .base import Task, TaskContext


class ImageClassification(Task):
    """MNIST or CIFAR-10, with the data loaded once (on the device for ``loader: memory``)."""

    metric = "test_acc"
    higher_is_better = True

    def __init__(self, cfg: ImageTask, ctx: TaskContext) -> None:
        super().__init__(cfg, ctx)
        name, root, spec = cfg.name, ctx.data_root, DATASETS[cfg.name]
        common = dict(device=ctx.device, channels_last=ctx.channels_last)

        # Load both splits now, so missing data fails before any training starts.
        if cfg.loader == "memory":
            train_x, train_y = load_split(name, root, True, cfg.download, limit=cfg.subset)
            test_x, test_y = load_split(name, root, False, cfg.download, limit=cfg.test_subset)
            norm = dict(mean=spec.mean, std=spec.std)
            self._train: InMemoryLoader | TorchvisionLoader = InMemoryLoader(
                train_x, train_y, batch_size=cfg.batch_size, shuffle=True, augment=cfg.augment, seed=ctx.seed,
                rank=ctx.rank, world_size=ctx.world_size, **norm, **common)
            self._test: InMemoryLoader | TorchvisionLoader = InMemoryLoader(
                test_x, test_y, batch_size=cfg.test_batch_size, **norm, **common)
        else:
            train_ds = open_dataset(name, root, True, cfg.download, torchvision_transform(name, cfg.augment))
            test_ds = open_dataset(name, root, False, cfg.download, torchvision_transform(name, False))
            self._train = TorchvisionLoader(
                train_ds, batch_size=cfg.batch_size, shuffle=True, seed=ctx.seed, rank=ctx.rank,
                world_size=ctx.world_size, num_workers=cfg.num_workers, limit=cfg.subset, **common)
            self._test = TorchvisionLoader(test_ds, batch_size=cfg.test_batch_size, num_workers=cfg.num_workers,
                                           limit=cfg.test_subset, **common)

    @property
    def batches_per_epoch(self) -> int:
        """Training batches this rank sees per epoch."""
        return len(self._train)

    def build_model(self, model_cfg: Model) -> nn.Module:
        torch.manual_seed(self.ctx.seed)  # same initial weights for every run with this seed
        model = build_model(model_cfg, in_channels=self.cfg.in_channels, num_classes=self.cfg.num_classes)
        model = model.to(self.ctx.device)
        if self.ctx.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def train_batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self._train.epoch(epoch)

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x), y)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        was_training = model.training
        model.eval()
        # sums stay on the device; one host sync at the end
        loss_sum = torch.zeros((), device=self.ctx.device)
        correct = torch.zeros((), device=self.ctx.device)
        count = 0
        for x, y in self._test.epoch(0):
            logits = model(x).float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(dim=1) == y).sum()
            count += len(y)
        model.train(was_training)
        total_loss, total_correct = torch.stack([loss_sum, correct]).tolist()
        return {"test_loss": total_loss / max(count, 1), "test_acc": 100.0 * total_correct / max(count, 1)}
