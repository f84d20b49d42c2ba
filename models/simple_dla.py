"""SimpleDLA: a simplified Deep Layer Aggregation network for CIFAR-sized images.

Yu, Wang, Shelhamer, Darrell, "Deep Layer Aggregation", CVPR 2018.
The "simple" CIFAR variant of the common model zoo: three 3x3 stem convolutions (16, 16, 32
channels), then four aggregation trees of residual basic blocks (64, 128, 256, 512 channels)
in which each tree merges its two sub-trees with a 1x1 "root" convolution; global pooling and
a linear head.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions plus (projected) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Root(nn.Module):
    """Aggregation node: concatenate the inputs, then 1x1 conv + BN + ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(torch.cat(xs, dim=1))))


class Tree(nn.Module):
    """Binary aggregation tree of depth ``level``; only the left-most leaf changes stride/width."""

    def __init__(self, in_ch: int, out_ch: int, level: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.root = Root(2 * out_ch, out_ch)
        if level == 1:
            self.left: nn.Module = BasicBlock(in_ch, out_ch, stride)
            self.right: nn.Module = BasicBlock(out_ch, out_ch, 1)
        else:
            self.left = Tree(in_ch, out_ch, level - 1, stride)
            self.right = Tree(out_ch, out_ch, level - 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = self.left(x)
        right = self.right(left)
        return self.root([left, right])


class SimpleDLA(nn.Module):
    """SimpleDLA (15 142 970 parameters for 3-channel input, 10 classes)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_bn_relu(in_channels, 16), _conv_bn_relu(16, 16), _conv_bn_relu(16, 32))
        self.trees = nn.Sequential(
            Tree(32, 64, level=1, stride=1),
            Tree(64, 128, level=2, stride=2),
            Tree(128, 256, level=2, stride=2),
            Tree(256, 512, level=1, stride=2),
        )
        # Adaptive pooling: 4x4 maps on CIFAR, 4x4 (ceil of 28/8) on MNIST; head stays 512 wide.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.trees(self.stem(x))
        return self.linear(torch.flatten(self.pool(out), 1))
