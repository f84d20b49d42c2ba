"""GoogLeNet (Inception v1) for CIFAR-sized images.

Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.
CIFAR form: one 3x3 convolution (192 channels) replaces the ImageNet stem, followed by the nine
inception modules 3a-5b with max-pools after 3b and 4e, global average pooling and a linear head.
Every convolution is followed by batch normalisation and the 5x5 branch is two stacked 3x3
convolutions, as in the common CIFAR model zoo.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)]


class Inception(nn.Module):
    """Four parallel branches (1x1; 1x1-3x3; 1x1-3x3-3x3; pool-1x1) concatenated on channels."""

    def __init__(self, in_ch: int, n1x1: int, n3x3red: int, n3x3: int, n5x5red: int, n5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.b1 = nn.Sequential(*_conv_bn_relu(in_ch, n1x1, 1))
        self.b2 = nn.Sequential(*_conv_bn_relu(in_ch, n3x3red, 1), *_conv_bn_relu(n3x3red, n3x3, 3))
        self.b3 = nn.Sequential(
            *_conv_bn_relu(in_ch, n5x5red, 1),
            *_conv_bn_relu(n5x5red, n5x5, 3),
            *_conv_bn_relu(n5x5, n5x5, 3),
        )
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *_conv_bn_relu(in_ch, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


class GoogLeNet(nn.Module):
    """GoogLeNet (6 166 250 parameters for 3-channel input, 10 classes)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(*_conv_bn_relu(in_channels, 192, 3))
        # Table 1 of the paper: (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
        self.inceptions = nn.Sequential(
            Inception(192, 64, 96, 128, 16, 32, 32),  # 3a
            Inception(256, 128, 128, 192, 32, 96, 64),  # 3b
            nn.MaxPool2d(3, stride=2, padding=1),
            Inception(480, 192, 96, 208, 16, 48, 64),  # 4a
            Inception(512, 160, 112, 224, 24, 64, 64),  # 4b
            Inception(512, 128, 128, 256, 24, 64, 64),  # 4c
            Inception(512, 112, 144, 288, 32, 64, 64),  # 4d
            Inception(528, 256, 160, 320, 32, 128, 128),  # 4e
            nn.MaxPool2d(3, stride=2, padding=1),
            Inception(832, 256, 160, 320, 32, 128, 128),  # 5a
            Inception(832, 384, 192, 384, 48, 128, 128),  # 5b
        )
        # Adaptive pooling: 8x8 maps on CIFAR, 7x7 on MNIST, same 1024-wide head.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inceptions(self.stem(x))
        return self.linear(torch.flatten(self.pool(out), 1))
