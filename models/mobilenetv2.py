"""MobileNetV2 for CIFAR-sized images.

Sandler, Howard, Zhu, Zhmoginov, Chen, "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018.
CIFAR form: stride-1 3x3 stem and stride 1 in the second bottleneck stage (instead of 2), so
32x32 input reaches a 4x4 map; 1x1 conv to 1280 channels, global pooling, linear head.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, stride of the first block s); Table 2 of the paper
# with the CIFAR change to the second row (s = 1).
MOBILENETV2_CFG = [
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise 3x3, linear projection (1x1); shortcut on stride-1 blocks."""

    def __init__(self, in_ch: int, out_ch: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),  # no activation: the "linear bottleneck"
        )
        self.stride = stride
        # As in the CIFAR zoo, stride-1 blocks always add a shortcut, projecting when widths differ.
        self.shortcut: nn.Module = nn.Identity()
        if stride == 1 and in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + self.shortcut(x) if self.stride == 1 else out


class MobileNetV2(nn.Module):
    """MobileNetV2 (2 296 922 parameters for 3-channel input, 10 classes)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
        )
        blocks: list[nn.Module] = []
        in_ch = 32
        for expansion, out_ch, repeats, stride in MOBILENETV2_CFG:
            for i in range(repeats):
                blocks.append(InvertedResidual(in_ch, out_ch, expansion, stride if i == 0 else 1))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(in_ch, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.blocks(self.stem(x)))
        return self.linear(torch.flatten(self.pool(out), 1))
