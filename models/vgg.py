"""VGG-19 with batch normalisation for CIFAR-sized images.

Simonyan, Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015; batch normalisation after every convolution (Ioffe, Szegedy, ICML 2015).
CIFAR form: the 16 convolutional layers of configuration E, then a single 512 -> classes
linear layer instead of the three large fully connected ImageNet layers.
"""

from __future__ import annotations

import torch
from torch import nn

# Configuration "E": channel counts, "M" marks a 2x2 max-pool.
VGG19_CFG: list[int | str] = [
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, 256, "M",
    512, 512, 512, 512, "M",
    512, 512, 512, 512, "M",
]


class VGG19(nn.Module):
    """VGG-19(BN) (20 040 522 parameters for 3-channel input, 10 classes).

    Max-pools use ``ceil_mode=True``: identical on 32x32 input (every size is even), while
    28x28 MNIST shrinks 28-14-7-4-2-1 instead of reaching an empty 0x0 map at the fifth pool.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for item in VGG19_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))
            else:
                out = int(item)
                layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                channels = out
        self.features = nn.Sequential(*layers)
        # 1x1 adaptive pooling: a no-op on CIFAR (map is already 1x1), keeps the 512-wide head.
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(self.features(x))
        return self.classifier(torch.flatten(out, 1))
