"""Grayscale display pipeline (PS3.3 C.11, PS3.4 N.2): stored values -> modality values -> VOI -> [0, 1].

Rules, chosen for a radiograph triage model and documented for the reports:
  * Modality LUT: the Modality LUT Sequence if present, else Rescale Slope/Intercept, taken from the top level,
    else from the frame's Per-frame Functional Group, else the Shared one (enhanced multi-frame objects keep
    them there).
  * VOI: the first Window Center/Width (same lookup order; LINEAR, LINEAR_EXACT and SIGMOID functions), else the
    first VOI LUT Sequence item, else a robust window from the 0.5th to the 99.5th percentile of the frame, so
    a few hot pixels or a collimator edge cannot squash the anatomy into a few grey levels.
  * MONOCHROME1 is inverted after the VOI so that bright always means dense. Presentation LUT Shape is not
    read: for the IODs we triage it only restates MONOCHROME1/2 (INVERSE with MONOCHROME1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut

PERCENTILE_WINDOW = (0.5, 99.5)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, the weights behind YBR_FULL's Y
_PERCENTILE_SAMPLES = 1_000_000  # percentiles of a strided sample: exact enough, bounded cost on 16k x 16k


def _first(value: Any) -> float | None:
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _functional_item(ds: Dataset, frame: int, macro: str) -> Dataset | None:
    """The frame's item of a functional group macro (e.g. FrameVOILUTSequence), per-frame first, then shared."""
    for groups_keyword, position in (
        ("PerFrameFunctionalGroupsSequence", frame),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(groups_keyword)
        if groups and len(groups) > position:
            items = groups[position].get(macro)
            if items:
                return items[0]  # type: ignore[no-any-return]
    return None


def _source(ds: Dataset, frame: int, keyword: str, macro: str) -> Dataset | None:
    if keyword in ds:
        return ds
    item = _functional_item(ds, frame, macro)
    return item if item is not None and keyword in item else None


def modality_values(stored: np.ndarray, ds: Dataset, frame: int) -> np.ndarray:
    if ds.get("ModalityLUTSequence"):
        return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)
    values = stored.astype(np.float32)
    source = _source(ds, frame, "RescaleSlope", "PixelValueTransformationSequence")
    if source is not None:
        slope = _first(source.get("RescaleSlope"))
        intercept = _first(source.get("RescaleIntercept"))
        if slope is not None and slope != 0:
            values *= np.float32(slope)
        if intercept is not None:
            values += np.float32(intercept)
    return values


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray | None:
    if function == "SIGMOID":
        if width <= 0:
            return None
        return (1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))).astype(np.float32)
    if function == "LINEAR_EXACT":
        if width <= 0:
            return None
        return np.clip((values - center) / np.float32(width) + 0.5, 0.0, 1.0)
    if width < 1:  # LINEAR (the default) needs width >= 1 (PS3.3 C.11.2.1.2.1)
        return None
    if width == 1:
        return (values > center - 0.5).astype(np.float32)
    return np.clip((values - (center - 0.5)) / np.float32(width - 1) + 0.5, 0.0, 1.0)


def _voi_lut(values: np.ndarray, ds: Dataset) -> np.ndarray | None:
    item = ds.VOILUTSequence[0]
    descriptor = item.get("LUTDescriptor")
    data = item.get("LUTData")
    if descriptor is None or data is None or len(descriptor) != 3:
        return None
    entries, first = int(descriptor[0]) or 65536, int(descriptor[1])
    if isinstance(data, bytes | bytearray):  # OW: raw 16-bit words in the data set's byte order
        little = ds.file_meta.TransferSyntaxUID != "1.2.840.10008.1.2.2" if hasattr(ds, "file_meta") else True
        lut = np.frombuffer(bytes(data), dtype="<u2" if little else ">u2")
    else:
        lut = np.asarray(data if isinstance(data, MultiValue | list) else [data], dtype=np.float64)
    lut = lut[:entries].astype(np.float32)
    if lut.size == 0 or lut.max() <= lut.min():
        return None
    index = np.clip(np.rint(values) - first, 0, lut.size - 1).astype(np.intp)
    return (lut[index] - lut.min()) / (lut.max() - lut.min())


def percentile_window(values: np.ndarray) -> np.ndarray:
    flat = values.ravel()
    sample = flat[:: max(1, flat.size // _PERCENTILE_SAMPLES)]
    low, high = (float(v) for v in np.percentile(sample, PERCENTILE_WINDOW))
    if high <= low:
        low, high = float(flat.min()), float(flat.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - np.float32(low)) / np.float32(high - low), 0.0, 1.0)


def voi(values: np.ndarray, ds: Dataset, frame: int) -> np.ndarray:
    source = _source(ds, frame, "WindowCenter", "FrameVOILUTSequence")
    if source is not None:
        center, width = _first(source.get("WindowCenter")), _first(source.get("WindowWidth"))
        function = str(source.get("VOILUTFunction") or "LINEAR").strip().upper()
        if center is not None and width is not None:
            windowed = _window(values, center, width, function)
            if windowed is not None:
                return windowed
    if ds.get("VOILUTSequence"):
        looked_up = _voi_lut(values, ds)
        if looked_up is not None:
            return looked_up
    return percentile_window(values)


def grayscale_display(stored: np.ndarray, ds: Dataset, frame: int, photometric: str) -> np.ndarray:
    """One monochrome frame of stored values -> float32 in [0, 1], bright = dense."""
    image = voi(modality_values(stored, ds, frame), ds, frame)
    if photometric == "MONOCHROME1":
        image = 1.0 - image
    return image


def _little_endian(ds: Dataset) -> bool:
    file_meta = getattr(ds, "file_meta", None)
    return str(getattr(file_meta, "TransferSyntaxUID", "")) != "1.2.840.10008.1.2.2"


def palette_gray(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR indices -> luma in [0, 1].

    pydicom 3.0's apply_color_lut reads OW palette data in the machine's byte order, which is wrong for big
    endian files, so plain (non-segmented) palettes are looked up here; segmented ones go through pydicom,
    which unpacks those with the data set's byte order.
    """
    descriptor = ds.RedPaletteColorLookupTableDescriptor
    entries, first, bits = int(descriptor[0]) or 65536, int(descriptor[1]), int(descriptor[2])
    if "RedPaletteColorLookupTableData" not in ds:
        rgb = apply_color_lut(indices, ds)
        return (rgb[..., :3].astype(np.float32) @ LUMA) / np.float32(2 ** (8 * rgb.dtype.itemsize) - 1)
    channels = []
    for colour in ("Red", "Green", "Blue"):
        data = bytes(ds[f"{colour}PaletteColorLookupTableData"].value)
        width = 1 if len(data) < 2 * entries else 2  # 8-bit entries may come packed one per byte
        dtype = np.dtype(np.uint8) if width == 1 else np.dtype("<u2" if _little_endian(ds) else ">u2")
        channels.append(np.frombuffer(data[: entries * width], dtype=dtype).astype(np.float32))
    if min(c.size for c in channels) == 0:
        raise ValueError("empty palette")
    size = min(c.size for c in channels)
    index = np.clip(indices.astype(np.int64) - first, 0, size - 1)
    gray = np.zeros(indices.shape, dtype=np.float32)
    for weight, channel in zip(LUMA, channels, strict=True):
        gray += np.float32(weight) * channel[:size][index]
    top = 255 if width == 1 or bits == 8 else 65535
    return gray / np.float32(top)
