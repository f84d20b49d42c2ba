"""Image classification model zoo (CIFAR-10 forms; also used for 1-channel MNIST), and the PINN's MLP.

A model is built from its config, configs/model/<name>.yaml, whose ``_target_`` names its class
(experiments.builders.build_model); every image model takes ``in_channels`` and ``num_classes``
as keywords, from the task. Adding one: its file here and its YAML there.
"""

from __future__ import annotations

from torch import nn

from .googlenet import GoogLeNet
from .mnist_cnn import MnistCNN
from .mobilenetv2 import MobileNetV2
from .resnet import ResNet18
from .simple_dla import SimpleDLA
from .vgg import VGG19


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "count_parameters",
    "GoogLeNet",
    "MnistCNN",
    "MobileNetV2",
    "ResNet18",
    "SimpleDLA",
    "VGG19",
]
