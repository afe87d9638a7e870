"""decode_image and quality_flags on real files: every installed syntax, lossless round trips, windowing checked
against the PS3.3 formulas, MONOCHROME1, multi-frame, colour, palettes, and decode failures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID

from tests.triage_dicom.helpers import load, raw, rewrite, to_bytes
from workers.triage.dicom.deid import deidentify
from workers.triage.dicom.display import grayscale_display
from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.inspect import Caps, read_dataset
from workers.triage.dicom.pixels import QUALITY_FLAGS, decode_image, quality_flags

LUMA = np.array([0.299, 0.587, 0.114])


def decoded(name: str) -> np.ndarray:
    return decode_image(read_dataset(raw(name)), Caps())


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, written out independently of the implementation."""
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    out = ((values - (center - 0.5)) / (width - 1) + 0.5).astype(np.float64)
    return np.where(values <= low, 0.0, np.where(values > high, 1.0, out))


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("SC_rgb_jpeg.dcm", (256, 256)),  # JPEG baseline, RGB
        ("JPGExtended.dcm", (1024, 256)),  # JPEG extended 12-bit
        ("JPEG-LL.dcm", (1024, 256)),  # JPEG lossless SV1
        ("MR_small_jpeg_ls_lossless.dcm", (64, 64)),  # JPEG-LS lossless
        ("JPEGLSNearLossless_16.dcm", (50, 10)),  # JPEG-LS near-lossless
        ("MR_small_jp2klossless.dcm", (64, 64)),  # JPEG 2000 lossless
        ("JPEG2000.dcm", (1024, 256)),  # JPEG 2000
        ("emri_small_jpeg_2k_lossless.dcm", (64, 64)),  # JPEG 2000, 10 frames
        ("MR_small_RLE.dcm", (64, 64)),  # RLE
        ("SC_rgb_rle.dcm", (100, 100)),  # RLE, RGB
        ("image_dfl.dcm", (512, 512)),  # deflated explicit VR little endian
        ("MR_small_bigendian.dcm", (64, 64)),  # explicit VR big endian
        ("MR_small_implicit.dcm", (64, 64)),  # implicit VR little endian
        ("RG1_J2KI.dcm", (1955, 1841)),  # full-size CR chest, lossy JPEG 2000
    ],
)
def test_every_installed_syntax_decodes_to_a_display_image(name: str, shape: tuple[int, int]) -> None:
    image = decoded(name)
    assert image.shape == shape and image.dtype == np.float32 and image.flags.c_contiguous
    assert 0.0 <= float(image.min()) < float(image.max()) <= 1.0


@pytest.mark.parametrize(
    ("reference", "lossless"),
    [
        ("MR_small.dcm", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"]),
        ("MR_small.dcm", ["MR_small_bigendian.dcm", "MR_small_implicit.dcm"]),
        (
            "emri_small.dcm",
            ["emri_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm"],
        ),
        ("RG1_UNCR.dcm", ["RG1_J2KR.dcm"]),  # the full-size chest radiograph, lossless JPEG 2000
    ],
)
def test_lossless_syntaxes_give_the_same_image_as_the_uncompressed_file(reference: str, lossless: list[str]) -> None:
    expected = decoded(reference)
    for name in lossless:
        assert np.array_equal(decoded(name), expected), name


def test_window_center_width_follows_ps3_3() -> None:
    ds = read_dataset(raw("MR_small.dcm"))
    stored = load("MR_small.dcm").pixel_array.astype(np.float64)
    expected = linear_window(stored, 600.0, 1600.0)
    np.testing.assert_allclose(decode_image(ds), expected, atol=1e-6)


def test_rescale_and_window_from_functional_groups_on_the_middle_frame() -> None:
    # Enhanced CT: Rescale and Window live in the Shared Functional Groups, not at the top level.
    source = load("eCT_Supplemental.dcm")
    stored = source.pixel_array[1].astype(np.float64)  # 2 frames: the middle one is index 1
    expected = linear_window(stored - 1024.0, 49.0, 102.0)
    np.testing.assert_allclose(decoded("eCT_Supplemental.dcm"), expected, atol=1e-6)


def test_percentile_window_when_no_voi_is_given() -> None:
    hounsfield = load("CT_small.dcm").pixel_array.astype(np.float64) - 1024.0  # slope 1, intercept -1024
    low, high = np.percentile(hounsfield, [0.5, 99.5])
    expected = np.clip((hounsfield - low) / (high - low), 0, 1)
    np.testing.assert_allclose(decoded("CT_small.dcm"), expected, atol=1e-5)


def test_voi_lut_sequence_is_applied() -> None:
    source = load("vlut_04.dcm")
    item = source.VOILUTSequence[0]
    entries, first, _ = item.LUTDescriptor
    lut = np.asarray(item.LUTData, dtype=np.float64)
    index = np.clip(source.pixel_array.astype(np.int64) - first, 0, entries - 1)
    expected = (lut[index] - lut.min()) / (lut.max() - lut.min())
    np.testing.assert_allclose(decoded("vlut_04.dcm"), expected, atol=1e-6)


def test_monochrome1_is_inverted_so_that_dense_is_bright() -> None:
    image = decoded("RG1_UNCI.dcm")  # CR chest, MONOCHROME1
    h, w = image.shape

    def region(r0: float, r1: float, c0: float, c1: float) -> float:
        return float(image[int(r0 * h) : int(r1 * h), int(c0 * w) : int(c1 * w)].mean())

    mediastinum = region(0.3, 0.6, 0.45, 0.55)
    lungs = (region(0.3, 0.6, 0.2, 0.35), region(0.3, 0.6, 0.65, 0.8))
    assert all(mediastinum > lung + 0.15 for lung in lungs)  # bone and heart bright, air-filled lungs dark
    # The same pixels declared MONOCHROME2 display exactly inverted.
    as_mono2 = decode_image(read_dataset(rewrite("RG1_UNCI.dcm", PhotometricInterpretation="MONOCHROME2")))
    np.testing.assert_allclose(as_mono2, 1.0 - image, atol=1e-6)


def test_multi_frame_uses_the_middle_frame() -> None:
    ds = read_dataset(raw("emri_small.dcm"))  # 10 frames -> index 5
    frames = load("emri_small.dcm").pixel_array
    image = decode_image(ds)
    np.testing.assert_array_equal(image, grayscale_display(frames[5], ds, 5, "MONOCHROME2"))
    assert not np.array_equal(image, grayscale_display(frames[0], ds, 0, "MONOCHROME2"))


def test_colour_becomes_bt601_luma() -> None:
    rgb = load("SC_rgb_rle.dcm").pixel_array.astype(np.float64)
    np.testing.assert_allclose(decoded("SC_rgb_rle.dcm"), rgb @ LUMA / 255.0, atol=1e-5)
    # The same picture stored as YBR_FULL gives the same grey (up to the colour conversion's rounding).
    assert np.abs(decoded("SC_ybr_full_uncompressed.dcm") - decoded("SC_rgb.dcm")).max() <= 2 / 255


def test_palette_colour_in_both_byte_orders() -> None:
    little = decoded("OBXXXX1A.dcm")
    assert np.array_equal(decoded("OBXXXX1A_expb.dcm"), little)
    assert np.array_equal(decoded("OBXXXX1A_rle.dcm"), little)
    assert float(little.max()) > 0.9


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # A real JPEG extended file that no installed plugin can decode (misplaced marker segment).
        (lambda: raw("JPEG-lossy.dcm"), "the Pixel Data could not be decoded with the installed plugins"),
        # A real JPEG 2000 file whose SIZ header declares a huge width: refused before the decoder allocates.
        (
            lambda: raw("JPEG2000-embedded-sequence-delimiter.dcm"),
            "the compressed frame is 1024 x 3722445056 but the header declares 1024 x 256",
        ),
        # Decompression bomb: a small header around a bigger codestream.
        (lambda: rewrite("JPEG2000.dcm", Rows=64, Columns=16), "the compressed frame is 1024 x 256 but"),
        (lambda: rewrite("SC_rgb_jpeg.dcm", Rows=16, Columns=16), "the compressed frame is 256 x 256 but"),
        # A JPEG 2000 frame whose SOC/SIZ markers are gone: it cannot be sized, so it is not decoded.
        (
            lambda: raw("JPEG2000.dcm").replace(b"\xff\x4f\xff\x51", b"\x00\x00\x00\x00", 1),
            "the compressed frame header could not be read",
        ),
    ],
)
def test_decode_failures_are_decode_errors_with_our_own_words(data: Callable[[], bytes], message: str) -> None:
    ds = read_dataset(data())
    with pytest.raises(DicomItemError) as caught:
        decode_image(ds)
    assert caught.value.code == "DECODE_ERROR"
    assert caught.value.message.startswith(message)
    for library_word in ("libjpeg", "openjpeg", "Pillow", "pylibjpeg", "J2K"):
        assert library_word not in caught.value.message


def test_decode_rechecks_the_header_and_the_syntax() -> None:
    with pytest.raises(DicomItemError) as caught:
        decode_image(read_dataset(raw("CT_small.dcm")), Caps(max_rows=100))
    assert caught.value.code == "OVERSIZED"
    ds = read_dataset(raw("JPEG2000.dcm"))
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.1.2.4.100")  # MPEG2: no decoder here
    with pytest.raises(DicomItemError) as caught:
        decode_image(ds)
    assert caught.value.code == "UNSUPPORTED_TRANSFER_SYNTAX"
    empty = Dataset()
    with pytest.raises(DicomItemError) as caught:
        decode_image(empty)
    assert caught.value.code == "UNSUPPORTED_TRANSFER_SYNTAX"


def test_decoding_after_deidentification_is_unchanged() -> None:
    ds = read_dataset(raw("eCT_Supplemental.dcm"))
    before = decode_image(ds)
    deidentify(ds, b"key")
    assert np.array_equal(decode_image(read_dataset(to_bytes(ds))), before)


class Info:
    def __init__(self, photometric: str | None = "MONOCHROME2", rows: int = 512, cols: int = 512) -> None:
        self.photometric, self.rows, self.cols = photometric, rows, cols


def test_quality_flags_on_constructed_images() -> None:
    assert QUALITY_FLAGS == (
        "constant_image",
        "saturated",
        "tiny_matrix",
        "unexpected_photometric",
        "low_dynamic_range",
    )
    ramp = np.tile(np.linspace(0, 1, 512, dtype=np.float32), (512, 1))
    assert quality_flags(ramp, Info()) == []
    assert quality_flags(np.full((512, 512), 0.3, np.float32), Info()) == ["constant_image"]
    halves = np.zeros((512, 512), np.float32)
    halves[:, 256:] = 1.0
    assert quality_flags(halves, Info()) == ["saturated", "low_dynamic_range"]
    assert quality_flags(np.round(ramp * 8) / 8, Info()) == ["low_dynamic_range"]
    assert quality_flags(ramp, Info(rows=48)) == ["tiny_matrix"]
    assert quality_flags(ramp, Info(photometric="RGB")) == ["unexpected_photometric"]
    small_ramp = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (40, 1))
    assert quality_flags(small_ramp, Info(rows=0, cols=0)) == ["tiny_matrix"]  # falls back to the array
    with pytest.raises(ValueError):
        quality_flags(np.zeros((2, 2, 3), np.float32), Info())


def test_quality_flags_on_real_images() -> None:
    def flags(name: str) -> list[str]:
        ds = read_dataset(raw(name))
        return quality_flags(decode_image(ds), deidentify(ds, b"key"))

    assert flags("RG1_UNCI.dcm") == []
    assert flags("CT_small.dcm") == []
    assert flags("US1_UNCI.dcm") == ["unexpected_photometric"]
    assert flags("JPEGLSNearLossless_16.dcm") == ["tiny_matrix", "low_dynamic_range"]
    assert flags("liver.dcm") == ["saturated", "low_dynamic_range"]  # a 1-bit segmentation mask
