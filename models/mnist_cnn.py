"""The small CNN of the official PyTorch MNIST example (pytorch/examples, mnist/main.py).

Not from a paper: it is the fast baseline the DLRS authors' MNIST script used. Two 3x3
convolutions (32, 64 channels, no padding), a 2x2 max-pool, dropout 0.25, a 128-unit fully
connected layer, dropout 0.5 and the linear head: 1 199 882 parameters for 1x28x28 input.
"""

from __future__ import annotations

import torch
from torch import nn

# The first fully connected layer is sized for 28x28 input: 28 -> 26 -> 24 -> pool -> 12.
INPUT_SIZE = 28
_FLAT = 64 * ((INPUT_SIZE - 4) // 2) ** 2  # 9216


class MnistCNN(nn.Module):
    """PyTorch-example MNIST CNN. Expects ``in_channels`` x 28 x 28 input (fixed size)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(_FLAT, 128)
        self.dropout2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"MnistCNN expects {INPUT_SIZE}x{INPUT_SIZE} images, got {tuple(x.shape[-2:])}")
        out = torch.relu(self.conv1(x))
        out = torch.relu(self.conv2(out))
        out = self.dropout1(torch.max_pool2d(out, 2))
        out = self.dropout2(torch.relu(self.fc1(torch.flatten(out, 1))))
        return self.fc2(out)
