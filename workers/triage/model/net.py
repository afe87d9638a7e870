"""Small CNNs for low-resolution chest radiographs, chosen by name from a registry (safetensors stores no code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(c_out),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet-style classifier for 1-channel inputs of ~28 px.

    `upsample` enlarges the input inside the network: at 28 px a 3x3 stem sees most of a rib space, and a 2x
    bilinear enlargement gives the first stage finer receptive fields at 4x the compute. `features()` exposes the
    last feature map so Grad-CAM needs no hooks.
    """

    def __init__(
        self,
        width: int = 32,
        blocks: tuple[int, ...] | list[int] = (1, 1, 1),
        upsample: int = 1,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.upsample = int(upsample)
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages: list[nn.Module] = []
        c_in = width
        for i, n in enumerate(blocks):
            c_out = width * 2**i
            layers = [BasicBlock(c_in, c_out, stride=1 if i == 0 else 2)]
            layers += [BasicBlock(c_out, c_out, stride=1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c_in, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="bilinear", align_corners=False)
        return self.stages(self.stem(x))

    def classify(self, feats: torch.Tensor) -> torch.Tensor:
        pooled = feats.mean(dim=(2, 3))
        return self.head(self.dropout(pooled)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit of the positive label, shape (N,)."""
        return self.classify(self.features(x))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {"small_resnet": SmallResNet}


def build_network(name: str, kwargs: dict[str, Any]) -> SmallResNet:
    try:
        factory = ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}") from None
    net = factory(**kwargs)
    if not isinstance(net, SmallResNet):
        raise TypeError(f"architecture {name!r} does not provide features()/classify()")
    return net
