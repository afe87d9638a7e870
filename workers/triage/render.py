"""Working-size images and the saliency overlay PNG. Pixels only: nothing from a DICOM header goes in."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Instances are reduced to this once decoded: the model input (28 px), the 256-px thumbnail and the saliency
# map all derive from it, and a shard of full-size radiographs then fits in a few tens of MB.
WORKING_SIDE = 512


def reduce(image: np.ndarray, max_side: int = WORKING_SIDE) -> np.ndarray:
    """Area-average downscale (BOX) so large radiographs keep their low frequencies instead of aliasing."""
    h, w = image.shape
    scale = max_side / max(h, w)
    if scale >= 1:
        return image.astype(np.float32, copy=False)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    reduced = Image.fromarray(image.astype(np.float32, copy=False), mode="F").resize(size, Image.Resampling.BOX)
    return np.clip(np.asarray(reduced, dtype=np.float32), 0.0, 1.0)


def _jet(heat: np.ndarray) -> np.ndarray:
    # A small blue-to-red ramp; enough to show where the model looked.
    r = np.clip(1.5 - np.abs(4 * heat - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * heat - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * heat - 1), 0, 1)
    return np.stack([r, g, b], axis=-1)


def overlay_png(image: np.ndarray, heat: np.ndarray, max_side: int = 256, alpha: float = 0.4) -> bytes:
    base = reduce(image, max_side)
    heat_img = Image.fromarray(heat.astype(np.float32), mode="F").resize(
        (base.shape[1], base.shape[0]), Image.Resampling.BILINEAR
    )
    heat_small = np.clip(np.asarray(heat_img, dtype=np.float32), 0, 1)
    gray = np.repeat(base[..., None], 3, axis=-1)
    mixed = (1 - alpha * heat_small[..., None]) * gray + alpha * heat_small[..., None] * _jet(heat_small)
    rgb = Image.fromarray((np.clip(mixed, 0, 1) * 255).round().astype(np.uint8), mode="RGB")
    out = io.BytesIO()
    # No text chunks (Pillow writes none unless given pnginfo); level 1 for speed, as for thumbnails.
    rgb.save(out, format="PNG", optimize=False, compress_level=1)
    return out.getvalue()
