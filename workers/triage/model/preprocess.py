"""Turning radiographs of any size into the model's input grid; shared by training and the runtime."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

MAX_STAGED_PIXELS = 1 << 25


def center_square(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the centred square crop.

    MedMNIST built its 28x28 images from a centre crop with the short edge as side; cropping large radiographs the
    same way keeps the aspect ratio and field of view the network was trained on.
    """
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def resize_square(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Centre-crop (N,1,H,W) to a square and resample to `size`.

    Antialiased bicubic weighs every source pixel when shrinking a 2,000 px film to 28 px (plain interpolation
    would sample a few pixels and alias the rib pattern into noise); it is torch's match for PIL's bicubic resize,
    the likely MedMNIST tool, and keeps more edge contrast than a triangle or box filter, which this model reads.
    Bicubic overshoot is clamped away by the caller.
    """
    top, left, side = center_square(batch.shape[-2], batch.shape[-1])
    batch = batch[..., top : top + side, left : left + side]
    if tuple(batch.shape[-2:]) == tuple(size):
        return batch
    return F.interpolate(batch, size=size, mode="bicubic", align_corners=False, antialias=True)


def check_image(image: np.ndarray, index: int) -> np.ndarray:
    if image.ndim != 2:
        raise ValueError(f"image {index}: expected a 2D array, got shape {image.shape}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image {index}: too small ({image.shape})")
    arr = np.asarray(image, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"image {index}: contains NaN or infinite values")
    return arr


def to_model_grid(
    images: Sequence[np.ndarray], size: tuple[int, int], device: str | torch.device, offset: int = 0
) -> torch.Tensor:
    """Stack images of mixed sizes as (N,1,h,w) float32 in [0,1], in input order; `offset` numbers the images in
    error messages when this call handles one chunk of a longer list.

    Images are grouped by shape so each group is resized in one interpolate call (a folder of films from one
    detector usually shares a shape).
    """
    arrays = [check_image(img, offset + i) for i, img in enumerate(images)]
    out = torch.empty((len(arrays), 1, *size), dtype=torch.float32, device=device)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, arr in enumerate(arrays):
        groups[(arr.shape[0], arr.shape[1])].append(i)
    for (h, w), indices in groups.items():
        # Bound the float32 staging copy (~128 MB): a batch of full-size films would otherwise need gigabytes.
        step = max(1, MAX_STAGED_PIXELS // (h * w))
        for start in range(0, len(indices), step):
            chunk = indices[start : start + step]
            stacked = torch.from_numpy(np.stack([arrays[i] for i in chunk])).to(device).unsqueeze(1)
            out[chunk] = resize_square(stacked, size).clamp_(0.0, 1.0)
    return out


def normalize(batch: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (batch - mean) / std
