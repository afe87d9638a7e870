"""Thumbnails: valid 8-bit grayscale PNGs of the decoded pixels, bounded size, no metadata chunks, stable bytes."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.triage_dicom.helpers import KEY, raw
from workers.triage.dicom.deid import deidentify
from workers.triage.dicom.inspect import read_dataset
from workers.triage.dicom.pixels import decode_image
from workers.triage.dicom.thumbnail import png_thumbnail

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunks(png: bytes) -> list[bytes]:
    """Chunk types in order, with each CRC checked: a structural reading that does not trust Pillow."""
    assert png.startswith(PNG_SIGNATURE)
    pos, found = len(PNG_SIGNATURE), []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        found.append(kind)
        pos += 12 + length
    return found


@pytest.fixture(scope="module")
def chest() -> np.ndarray:
    ds = read_dataset(raw("RG1_UNCI.dcm"))
    deidentify(ds, KEY)
    return decode_image(ds)


def test_chest_radiograph_thumbnail(chest: np.ndarray) -> None:
    png = png_thumbnail(chest)
    assert chunks(png) == [b"IHDR", b"IDAT", b"IEND"]  # no tEXt/iTXt/zTXt, no pHYs, no iCCP
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.mode == "L"
        assert img.size == (241, 256)  # 1841 x 1955 scaled so the longer side is 256
        assert not img.info
        pixels = np.asarray(img, dtype=np.float64) / 255
    assert abs(pixels.mean() - float(chest.mean())) < 0.01  # area averaging keeps the mean brightness
    assert png_thumbnail(chest) == png  # deterministic bytes


def test_small_images_are_not_upscaled_and_max_side_is_honoured() -> None:
    small = decode_image(read_dataset(raw("MR_small.dcm")))
    with Image.open(io.BytesIO(png_thumbnail(small))) as img:
        assert img.size == (64, 64)
        assert np.array_equal(np.asarray(img), np.rint(small * 255).astype(np.uint8))
    wide = np.tile(np.linspace(0, 1, 1000, dtype=np.float32), (10, 1))
    with Image.open(io.BytesIO(png_thumbnail(wide, max_side=100))) as img:
        assert img.size == (100, 1)


def test_out_of_range_values_are_clipped_and_bad_input_refused() -> None:
    image = np.array([[-1.0, 0.5], [np.nan, 7.0]], dtype=np.float32)
    with Image.open(io.BytesIO(png_thumbnail(image))) as img:
        assert np.asarray(img).tolist() == [[0, 128], [0, 255]]
    with pytest.raises(ValueError):
        png_thumbnail(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        png_thumbnail(np.zeros((4, 4), np.float32), max_side=0)
