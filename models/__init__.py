"""Image classification model zoo (CIFAR-10 forms; also used for 1-channel MNIST).

``build_image_model(name, in_channels=..., num_classes=...)`` is the single entry point the
image tasks use; ``IMAGE_MODELS`` maps the config names to constructors.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from .googlenet import GoogLeNet
from .mnist_cnn import MnistCNN
from .mobilenetv2 import MobileNetV2
from .resnet import ResNet18
from .simple_dla import SimpleDLA
from .vgg import VGG19

# Every constructor takes (in_channels=..., num_classes=...) as keywords.
IMAGE_MODELS: dict[str, Callable[..., nn.Module]] = {
    "simple_dla": SimpleDLA,
    "vgg19": VGG19,
    "resnet18": ResNet18,
    "googlenet": GoogLeNet,
    "mobilenetv2": MobileNetV2,
    "mnist_cnn": MnistCNN,
}


def build_image_model(name: str, *, in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """Instantiate the image model registered as ``name``."""
    try:
        constructor = IMAGE_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model '{name}'; choose one of: {', '.join(IMAGE_MODELS)}") from None
    return constructor(in_channels=in_channels, num_classes=num_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "IMAGE_MODELS",
    "build_image_model",
    "count_parameters",
    "GoogLeNet",
    "MnistCNN",
    "MobileNetV2",
    "ResNet18",
    "SimpleDLA",
    "VGG19",
]
