"""Image classification on MNIST / CIFAR-10 (SPEC §3): cross-entropy, test accuracy in percent."""

from __future__ import annotations

from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..data import DATASETS, InMemoryLoader, TorchvisionLoader, load_split, open_dataset, torchvision_transform
from ..errors import UserError
from .base import Task, TaskContext

LOADERS = ("memory", "torchvision")


def _opt(cfg: Any, key: str, default: Any) -> Any:
    value = getattr(cfg, key, default)
    return default if value is None and default is not None else value


def _positive_int(cfg: Any, key: str, allow_none: bool = False) -> int | None:
    value = getattr(cfg, key, None)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        allowed = "a positive integer or null" if allow_none else "a positive integer"
        raise UserError(f"task.{key} must be {allowed}, got {value!r}")
    return value


class ImageClassification(Task):
    """MNIST or CIFAR-10, with the data loaded once (on the device for ``loader: memory``)."""

    metric = "test_acc"
    higher_is_better = True

    def __init__(self, cfg: Any, ctx: TaskContext) -> None:
        super().__init__(cfg, ctx)
        name = cfg.name
        if name not in DATASETS:
            raise UserError(f"task.name must be one of {', '.join(DATASETS)}, got {name!r}")
        spec = DATASETS[name]
        loader = _opt(cfg, "loader", "memory")
        if loader not in LOADERS:
            raise UserError(f"task.loader must be one of {', '.join(LOADERS)}, got {loader!r}")
        batch_size, test_batch_size = _positive_int(cfg, "batch_size"), _positive_int(cfg, "test_batch_size")
        subset, test_subset = _positive_int(cfg, "subset", True), _positive_int(cfg, "test_subset", True)
        self.in_channels = int(_opt(cfg, "in_channels", spec.channels))
        self.num_classes = int(_opt(cfg, "num_classes", 10))
        if self.in_channels != spec.channels:
            raise UserError(f"task.in_channels must be {spec.channels} for {name}, got {self.in_channels}")
        if self.num_classes < 10:
            raise UserError(f"task.num_classes must be at least 10 for {name}, got {self.num_classes}")
        # the config's paths.data (the trainer passes it in ctx); a hand-built task cfg may carry data_root
        root = ctx.data_root if ctx.data_root is not None else _opt(cfg, "data_root", "data")
        download = bool(_opt(cfg, "download", False))
        augment = bool(_opt(cfg, "augment", False))
        num_workers = int(_opt(cfg, "num_workers", 0))
        common = dict(device=ctx.device, channels_last=ctx.channels_last)

        # Load both splits now, so missing data fails before any training starts.
        if loader == "memory":
            train_x, train_y = load_split(name, root, True, download, limit=subset)
            test_x, test_y = load_split(name, root, False, download, limit=test_subset)
            norm = dict(mean=spec.mean, std=spec.std)
            self._train: InMemoryLoader | TorchvisionLoader = InMemoryLoader(
                train_x, train_y, batch_size=batch_size, shuffle=True, augment=augment, seed=ctx.seed,
                rank=ctx.rank, world_size=ctx.world_size, **norm, **common)
            self._test: InMemoryLoader | TorchvisionLoader = InMemoryLoader(
                test_x, test_y, batch_size=test_batch_size, **norm, **common)
        else:
            train_ds = open_dataset(name, root, True, download, torchvision_transform(name, augment))
            test_ds = open_dataset(name, root, False, download, torchvision_transform(name, False))
            self._train = TorchvisionLoader(
                train_ds, batch_size=batch_size, shuffle=True, seed=ctx.seed, rank=ctx.rank,
                world_size=ctx.world_size, num_workers=num_workers, limit=subset, **common)
            self._test = TorchvisionLoader(test_ds, batch_size=test_batch_size, num_workers=num_workers,
                                           limit=test_subset, **common)

    @property
    def batches_per_epoch(self) -> int:
        """Training batches this rank sees per epoch."""
        return len(self._train)

    def build_model(self, model_cfg: Any) -> nn.Module:
        from models import IMAGE_MODELS, build_image_model  # needed only once a model is built

        if model_cfg.name not in IMAGE_MODELS:
            raise UserError(f"model {model_cfg.name!r} is not an image model; choose one of {', '.join(IMAGE_MODELS)}")
        torch.manual_seed(self.ctx.seed)  # same initial weights for every run with this seed
        model = build_image_model(model_cfg.name, in_channels=self.in_channels, num_classes=self.num_classes)
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
