"""Batched, seeded training augmentation for small radiographs (torch ops only, so it costs little next to the net).

The held-back test films come from a different acquisition period than the training films; exposure, positioning and
sharpness vary between them, so the augmentation spans those factors rather than adding arbitrary distortions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rotate_deg: float = 10.0
    scale: float = 0.10
    translate: float = 0.08  # fraction of the image side
    hflip: float = 0.5
    contrast: float = 0.25
    brightness: float = 0.08
    gamma: float = 0.30  # log-uniform in [1/(1+g), 1+g]
    blur: float = 0.5  # probability of a blur/sharpen mix
    noise: float = 0.02
    erase: float = 0.0  # probability of one erased rectangle


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _geometry(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    angle = _uniform(n, -cfg.rotate_deg, cfg.rotate_deg, gen) * (math.pi / 180.0)
    scale = _uniform(n, 1.0 - cfg.scale, 1.0 + cfg.scale, gen)
    shift = _uniform(2 * n, -cfg.translate, cfg.translate, gen).view(n, 2) * 2.0  # grid units span [-1, 1]
    flip = torch.where(torch.rand(n, generator=gen) < cfg.hflip, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cos * flip, -sin, shift[:, 0]
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sin * flip, cos, shift[:, 1]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Border padding repeats the film edge; zeros would add a black frame the test films never have.
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _intensity(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    log_g = math.log1p(cfg.gamma)
    gamma = torch.exp(_uniform(n, -log_g, log_g, gen)).view(n, 1, 1, 1)
    x = x.clamp(1e-6, 1.0) ** gamma
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(n, 1.0 - cfg.contrast, 1.0 + cfg.contrast, gen).view(n, 1, 1, 1)
    brightness = _uniform(n, -cfg.brightness, cfg.brightness, gen).view(n, 1, 1, 1)
    return (x - mean) * contrast + mean + brightness


def _sharpness(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    k = torch.tensor([0.25, 0.5, 0.25])
    kernel = (k[:, None] * k[None, :]).view(1, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel)
    # Negative weights sharpen: films differ in edge enhancement as much as in blur.
    weight = _uniform(n, -0.5, 1.0, gen) * (torch.rand(n, generator=gen) < cfg.blur)
    return x + weight.view(n, 1, 1, 1) * (blurred - x)


def _erase(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    chosen = torch.nonzero(torch.rand(n, generator=gen) < cfg.erase).flatten().tolist()
    for i in chosen:
        eh, ew = (int(v) for v in torch.randint(h // 6, h // 3 + 1, (2,), generator=gen))
        top = int(torch.randint(0, h - eh + 1, (1,), generator=gen))
        left = int(torch.randint(0, w - ew + 1, (1,), generator=gen))
        x[i, :, top : top + eh, left : left + ew] = x[i].mean()
    return x


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Augment a (N,1,H,W) batch of [0,1] images on the CPU; returns a new tensor clamped to [0,1]."""
    x = _geometry(x, cfg, gen)
    x = _intensity(x, cfg, gen)
    x = _sharpness(x, cfg, gen)
    if cfg.noise > 0:
        sigma = _uniform(x.shape[0], 0.0, cfg.noise, gen).view(-1, 1, 1, 1)
        x = x + sigma * torch.randn(x.shape, generator=gen)
    if cfg.erase > 0:
        x = _erase(x, cfg, gen)
    return x.clamp(0.0, 1.0)
