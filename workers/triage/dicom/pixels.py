"""Decode one display image per instance, and flag images a score should not be trusted on.

`decode_image` returns a 2-D float32 array in [0, 1], bright = dense:
  * Multi-frame objects contribute their middle frame, index NumberOfFrames // 2 (the upper middle for an even
    count): for a cine or a stack it is the frame most likely to show the anatomy, and only that one frame is
    decoded, so a 2048-frame object costs one frame of memory.
  * Monochrome frames go through display.py (modality LUT, first VOI window or LUT, else a percentile window,
    MONOCHROME1 inverted).
  * Colour is converted to grey with the ITU-R BT.601 luma weights (for YBR the Y channel already is that luma)
    and scaled by the bit depth, no windowing: colour images carry no VOI. PALETTE COLOR goes through its LUT.
Before a compressed frame is decoded its codestream header must agree with Rows x Columns (codestream.py).
All decoder failures become DECODE_ERROR with a generic message: plugin messages are not ours to pass on.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import get_decoder

from core.enums import ItemErrorCode
from workers.triage.dicom.codestream import frame_dimensions
from workers.triage.dicom.display import LUMA, grayscale_display, palette_gray
from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.header import (
    ImageHeader,
    check_pixel_data,
    check_transfer_syntax,
    image_header,
    str_value,
)
from workers.triage.dicom.inspect import Caps
from workers.triage.dicom.quiet import quiet_pydicom


def _decode_error(message: str) -> DicomItemError:
    return DicomItemError(ItemErrorCode.DECODE_ERROR, message)


def _check_codestream(ds: Dataset, header: ImageHeader, frame: int) -> None:
    extended = None
    if "ExtendedOffsetTable" in ds and "ExtendedOffsetTableLengths" in ds:
        extended = (ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths)
    try:
        data = get_frame(ds.PixelData, frame, number_of_frames=header.frames, extended_offsets=extended)
    except Exception:
        raise _decode_error("the frame could not be located in the encapsulated Pixel Data") from None
    if not data:
        raise _decode_error("the encapsulated frame is empty")
    try:
        declared = frame_dimensions(header.transfer_syntax, data)
    except ValueError:
        raise _decode_error("the compressed frame header could not be read") from None
    if declared is None:
        return  # RLE and syntaxes whose codestream carries no dimensions: the decoder sizes from the header
    if declared != (header.rows, header.cols):
        raise _decode_error(
            f"the compressed frame is {declared[0]} x {declared[1]} but the header declares "
            f"{header.rows} x {header.cols}"
        )


def _color_gray(pixels: np.ndarray, photometric: str, bits_stored: int) -> np.ndarray:
    scale = np.float32(2**bits_stored - 1)
    if photometric.startswith("YBR"):  # Y of YCbCr (BT.601 full range) is the luma we would compute from RGB
        return pixels[..., 0].astype(np.float32) / scale
    return (pixels.astype(np.float32) @ LUMA) / scale


def _decode(ds: Dataset, caps: Caps) -> np.ndarray:
    file_meta = getattr(ds, "file_meta", None)
    transfer_syntax = str_value(file_meta, "TransferSyntaxUID") if isinstance(file_meta, Dataset) else None
    if transfer_syntax is None:
        raise DicomItemError(ItemErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "no transfer syntax is declared")
    if "PixelData" not in ds:
        raise DicomItemError(ItemErrorCode.NO_PIXEL_DATA, "the object carries no image (no Pixel Data)")
    # Re-checked here so that a caller that skipped read_dataset still cannot hand the decoder a bomb.
    header = image_header(ds, caps, transfer_syntax)
    check_transfer_syntax(transfer_syntax)
    check_pixel_data(ds, header)
    frame = header.frames // 2
    if ds["PixelData"].is_undefined_length:
        _check_codestream(ds, header, frame)
    try:
        pixels, properties = get_decoder(transfer_syntax).as_array(ds, index=frame, raw=False)
    except MemoryError:
        raise
    except Exception:
        raise _decode_error("the Pixel Data could not be decoded with the installed plugins") from None
    if pixels.shape[:2] != (header.rows, header.cols):
        raise _decode_error(f"decoded frame shape {pixels.shape[:2]} does not match the header")

    if header.photometric == "PALETTE COLOR":
        image = palette_gray(pixels, ds)
    elif header.samples == 3:
        decoded_as = str(properties.get("photometric_interpretation") or header.photometric).upper()
        image = _color_gray(pixels, decoded_as, header.bits_stored)
    else:
        image = grayscale_display(pixels, ds, frame, header.photometric)
    image = np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)
    return np.ascontiguousarray(np.clip(image, 0.0, 1.0), dtype=np.float32)


def decode_image(ds: Dataset, caps: Caps | None = None) -> np.ndarray:
    """The instance's display image: 2-D float32 in [0, 1], bright = dense (module docstring)."""
    with quiet_pydicom():
        try:
            return _decode(ds, caps or Caps())
        except (DicomItemError, MemoryError):
            raise
        except Exception:  # LUT/rescale attributes that pydicom could not read: still the pixels' fault
            raise _decode_error("the decoded pixels could not be converted for display") from None


# --- quality flags --------------------------------------------------------------------------------------------

# The fixed set, in the order they are reported:
#   constant_image          max - min below 1e-6: nothing to see (implies the other value-based flags, so
#                           saturated and low_dynamic_range are not added on top of it)
#   saturated               more than 80% of the pixels sit within 1/512 of black or white: the window leaves
#                           almost nothing to see (CT with a narrow window and much air can get there too)
#   tiny_matrix             fewer than 64 rows or columns in the acquired matrix
#   unexpected_photometric  not MONOCHROME1/2: the radiograph models were trained on grayscale acquisitions
#   low_dynamic_range       fewer than 32 distinct 8-bit display levels (binary masks, posterised images)
QUALITY_FLAGS = ("constant_image", "saturated", "tiny_matrix", "unexpected_photometric", "low_dynamic_range")
CONSTANT_RANGE = 1e-6
SATURATED_FRACTION = 0.8
SATURATION_MARGIN = 1.0 / 512
MIN_MATRIX_SIDE = 64
MIN_DISPLAY_LEVELS = 32
_LEVEL_SAMPLES = 1_000_000


class ImageInfo(Protocol):
    """What quality_flags needs from the safe metadata (deid.DeidResult satisfies it)."""

    @property
    def photometric(self) -> str | None: ...

    @property
    def rows(self) -> int: ...

    @property
    def cols(self) -> int: ...


def quality_flags(image: np.ndarray, info: ImageInfo) -> list[str]:
    """Flags from QUALITY_FLAGS for a decoded (possibly downscaled) image and its metadata."""
    if image.ndim != 2 or image.size == 0:
        raise ValueError("quality_flags expects a non-empty 2-D image")
    flags: set[str] = set()
    if float(image.max()) - float(image.min()) < CONSTANT_RANGE:
        flags.add("constant_image")
    else:
        at_ends = np.count_nonzero((image <= SATURATION_MARGIN) | (image >= 1.0 - SATURATION_MARGIN))
        if at_ends > SATURATED_FRACTION * image.size:
            flags.add("saturated")
        flat = image.ravel()
        sample = flat[:: max(1, flat.size // _LEVEL_SAMPLES)]
        levels = np.unique(np.rint(np.clip(sample, 0.0, 1.0) * 255).astype(np.uint8)).size
        if levels < MIN_DISPLAY_LEVELS:
            flags.add("low_dynamic_range")
    # The acquired matrix, not the (possibly downscaled) working image, decides what is tiny.
    rows, cols = info.rows or image.shape[0], info.cols or image.shape[1]
    if min(rows, cols) < MIN_MATRIX_SIDE:
        flags.add("tiny_matrix")
    if info.photometric not in ("MONOCHROME1", "MONOCHROME2"):
        flags.add("unexpected_photometric")
    return [flag for flag in QUALITY_FLAGS if flag in flags]
