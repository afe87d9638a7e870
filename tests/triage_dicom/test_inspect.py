"""read_dataset on real files and on real files broken on purpose: every case gets its exact code, and no
message quotes a value from the file."""

from __future__ import annotations

import io
import pickle
import random
import zipfile
import zlib

import pytest
from PIL import Image
from pydicom.dataset import Dataset

from tests.triage_dicom.helpers import (
    assert_no_file_values,
    expect_error,
    load,
    raw,
    rewrite,
    with_preamble,
    with_transfer_syntax,
)
from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.inspect import Caps, read_dataset

VALID = [
    ("CT_small.dcm", "1.2.840.10008.1.2.1"),  # TIFF header in the preamble (dual-personality file)
    ("MR_small.dcm", "1.2.840.10008.1.2.1"),
    ("RG1_UNCI.dcm", "1.2.840.10008.1.2.1"),  # full-size CR chest, MONOCHROME1
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99"),  # deflated data set
    ("SC_rgb_jpeg.dcm", "1.2.840.10008.1.2.4.50"),
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51"),
    ("JPEG-LL.dcm", "1.2.840.10008.1.2.4.70"),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80"),
    ("JPEGLSNearLossless_16.dcm", "1.2.840.10008.1.2.4.81"),
    ("emri_small_jpeg_2k_lossless.dcm", "1.2.840.10008.1.2.4.90"),
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91"),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5"),
    ("SC_rgb_rle.dcm", "1.2.840.10008.1.2.5"),
    ("emri_small.dcm", "1.2.840.10008.1.2.1"),  # 10 frames
    ("US1_UNCI.dcm", "1.2.840.10008.1.2.1"),
    ("explicit_VR-UN.dcm", "1.2.840.10008.1.2.4.90"),  # sequences encoded as UN
]


@pytest.mark.parametrize(("name", "syntax"), VALID)
def test_real_files_are_accepted(name: str, syntax: str) -> None:
    ds = read_dataset(raw(name), Caps())
    assert isinstance(ds, Dataset)
    assert ds.file_meta.TransferSyntaxUID == syntax
    assert "PixelData" in ds


def test_file_without_preamble_is_accepted_when_it_is_a_real_data_set() -> None:
    # An old-style implicit VR stream: no preamble, no DICM, no file meta. The syntax is inferred.
    ds = read_dataset(raw("OT-PAL-8-face.dcm"))
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert ds.Rows == 480


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("MR_truncated.dcm", "TRUNCATED"),
        ("rtplan_truncated.dcm", "TRUNCATED"),
        ("emri_small_jpeg_2k_lossless_too_short.dcm", "TRUNCATED"),
        ("DICOMDIR", "DICOMDIR"),
        ("DICOMDIR-implicit", "DICOMDIR"),
        ("DICOMDIR-bigEnd", "DICOMDIR"),
        ("DICOMDIR-nooffset", "DICOMDIR"),
        ("test-SR.dcm", "NO_PIXEL_DATA"),
        ("rtplan.dcm", "NO_PIXEL_DATA"),
        ("rtstruct.dcm", "NO_PIXEL_DATA"),
        ("waveform_ecg.dcm", "NO_PIXEL_DATA"),
        ("ExplVR_LitEndNoMeta.dcm", "NO_PIXEL_DATA"),  # a real data set without preamble, but an RT plan
        ("no_meta.dcm", "NOT_DICOM"),  # starts one byte off: not a data set
        ("badVR.dcm", "INVALID_HEADER"),  # NumberOfFrames is not a number
    ],
)
def test_real_problem_files_get_their_code(name: str, code: str) -> None:
    exc = expect_error(raw(name), code)
    assert_no_file_values(exc.message, name)


CUT_FILES = ["CT_small.dcm", "JPEG2000.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "image_dfl.dcm"]


@pytest.mark.parametrize("name", CUT_FILES)
def test_every_cut_of_a_real_file_is_truncated(name: str) -> None:
    data = raw(name)
    # The deflated file carries 8 bytes after the end of its deflate stream; cutting those loses nothing.
    end = len(data) - (8 if name == "image_dfl.dcm" else 0)
    rng = random.Random(name)
    cuts = sorted({132, 133, 140, 200, 300, end - 1, *rng.sample(range(132, end), 150)})
    for cut in cuts:
        exc = expect_error(data[:cut], "TRUNCATED")
        assert_no_file_values(exc.message, name)
    assert read_dataset(data[:end]) is not None


def test_cuts_inside_the_preamble() -> None:
    zero_preamble = raw("JPEG2000.dcm")
    for cut in (1, 64, 128, 130):
        expect_error(zero_preamble[:cut], "TRUNCATED")
    expect_error(raw("CT_small.dcm")[:100], "NOT_DICOM")  # a bare TIFF header says nothing about DICOM
    expect_error(b"", "NOT_DICOM")


def test_cut_between_elements_before_pixel_data_is_truncated() -> None:
    # Cut exactly at the Pixel Data element: every element before it is whole, so only the SOP class
    # and the Image Pixel module tell that the image is missing.
    data = raw("CT_small.dcm")
    start = data.rfind(b"\xe0\x7f\x10\x00")
    exc = expect_error(data[:start], "TRUNCATED")
    assert "Pixel Data" in exc.message


@pytest.mark.parametrize(
    "signature",
    [b"MZ\x90\x00\x03", b"\x7fELF\x02\x01", b"PK\x03\x04\x14\x00", b"%PDF-1.7", b"#!/bin/sh\n", b"\x1f\x8b\x08"],
)
def test_executable_or_archive_preamble_is_suspicious(signature: bytes) -> None:
    exc = expect_error(with_preamble(raw("JPEG2000.dcm"), signature), "SUSPICIOUS_PREAMBLE")
    assert exc.message.startswith("the preamble starts like")


def test_other_non_zero_preamble_is_suspicious_but_tiff_is_not() -> None:
    data = raw("JPEG2000.dcm")
    expect_error(with_preamble(data, b"\x00" * 17 + b"\x01"), "SUSPICIOUS_PREAMBLE")
    expect_error(with_preamble(data, b"hello world"), "SUSPICIOUS_PREAMBLE")
    for tiff in (b"II*\x00\x08\x00\x00\x00", b"MM\x00*\x00\x00\x00\x08"):
        assert read_dataset(with_preamble(data, tiff)) is not None


def test_not_dicom_inputs() -> None:
    png = io.BytesIO()
    Image.new("L", (32, 32), 128).save(png, format="PNG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.dcm", raw("CT_small.dcm"))
    random_bytes = random.Random(7).randbytes(5000)
    for data in (
        png.getvalue(),
        archive.getvalue(),
        random_bytes,
        b"just some text\n" * 20,
        b"\x08\x00" + random_bytes,
    ):
        expect_error(data, "NOT_DICOM")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"Rows": 60000}, "Rows x Columns 60000 x 128 exceeds the cap 16384 x 16384"),
        ({"Columns": 40000}, "Rows x Columns 128 x 40000 exceeds the cap"),
    ],
)
def test_huge_matrix_is_oversized_before_decoding(changes: dict[str, int], fragment: str) -> None:
    exc = expect_error(rewrite("CT_small.dcm", **changes), "OVERSIZED")
    assert fragment in exc.message


def test_caps() -> None:
    expect_error(raw("CT_small.dcm"), "OVERSIZED", Caps(max_file_bytes=1000))
    exc = expect_error(raw("emri_small.dcm"), "OVERSIZED", Caps(max_frames=5))
    assert exc.message == "10 frames exceeds the cap of 5"
    exc = expect_error(raw("emri_small.dcm"), "OVERSIZED", Caps(max_decoded_bytes=64 * 64 * 2 * 10 - 1))
    assert "81920 bytes" in exc.message
    assert read_dataset(raw("emri_small.dcm"), Caps(max_decoded_bytes=64 * 64 * 2 * 10)) is not None
    with pytest.raises(ValueError):
        Caps(max_rows=0)


def test_deflate_bomb_is_oversized_not_inflated() -> None:
    ds_bytes = raw("image_dfl.dcm")
    meta_end = 132 + 12 + int(load("image_dfl.dcm").file_meta.FileMetaInformationGroupLength)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    bomb = compressor.compress(b"\x00" * (4 * 1024 * 1024)) + compressor.flush()
    exc = expect_error(ds_bytes[:meta_end] + bomb, "OVERSIZED", Caps(max_file_bytes=1024 * 1024))
    assert "inflates beyond the cap" in exc.message


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"BitsStored": 20}, "BitsStored 20 is outside 1..BitsAllocated (16)"),
        ({"BitsAllocated": 12}, "BitsAllocated 12 is not one of 1, 8, 16, 32"),
        ({"HighBit": 16}, "HighBit 16 is outside 0..BitsAllocated-1 (15)"),
        ({"Rows": None}, "required attribute Rows is missing"),
        ({"SamplesPerPixel": 3}, "MONOCHROME2 needs 1 samples per pixel, not 3"),
        ({"PhotometricInterpretation": "RGB"}, "RGB needs 3 samples per pixel, not 1"),
        ({"PhotometricInterpretation": "PATIENT^NAME"}, "PhotometricInterpretation is not a supported value"),
        ({"PhotometricInterpretation": None}, "required attribute PhotometricInterpretation is missing"),
        ({"PixelRepresentation": 2}, "PixelRepresentation 2 is not 0 or 1"),
        ({"NumberOfFrames": 0}, "NumberOfFrames 0 is not positive"),
    ],
)
def test_inconsistent_headers_are_invalid(changes: dict[str, object], message: str) -> None:
    exc = expect_error(rewrite("CT_small.dcm", **changes), "INVALID_HEADER")
    assert exc.message == message


def test_short_native_pixel_data_is_truncated() -> None:
    exc = expect_error(rewrite("CT_small.dcm", NumberOfFrames=2), "TRUNCATED")
    assert exc.message == "native Pixel Data holds 32768 bytes, the header needs 65536"


def test_fewer_fragments_than_frames_is_truncated() -> None:
    exc = expect_error(rewrite("JPEG2000.dcm", NumberOfFrames=3), "TRUNCATED")
    assert exc.message == "encapsulated Pixel Data holds 1 fragments for 3 frames"


@pytest.mark.parametrize(
    ("name", "syntax", "message"),
    [
        (
            "JPEG2000.dcm",
            "1.2.840.10008.1.2.4.100",
            "no pixel data decoder exists for 'MPEG2 Main Profile / Main Level'",
        ),
        # A syntax UID no dictionary knows (pynetdicom, once imported, registers newer ones such as JPEG XL).
        ("JPEG2000.dcm", "1.2.840.10008.1.2.4.999", "no pixel data decoder exists for an unregistered transfer syntax"),
        ("CT_small.dcm", "1.2.3.4.5.6.7.8", "no pixel data decoder exists for an unregistered transfer syntax"),
        ("JPEG2000.dcm", "1.2.840.10008.1.2.4.94", "no pixel data decoder exists for 'JPIP Referenced'"),
    ],
)
def test_undecodable_transfer_syntax(name: str, syntax: str, message: str) -> None:
    exc = expect_error(with_transfer_syntax(name, syntax), "UNSUPPORTED_TRANSFER_SYNTAX")
    assert exc.message == message
    assert syntax not in exc.message  # an unregistered UID is the file's own string: never quoted


def test_syntax_and_encapsulation_must_agree() -> None:
    exc = expect_error(with_transfer_syntax("JPEG2000.dcm", "1.2.840.10008.1.2.1"), "INVALID_HEADER")
    assert exc.message == "Pixel Data is encapsulated but the transfer syntax is native"
    exc = expect_error(with_transfer_syntax("CT_small.dcm", "1.2.840.10008.1.2.4.50"), "INVALID_HEADER")
    assert exc.message == "Pixel Data is native but the transfer syntax is encapsulated"


def test_error_is_picklable_with_code_and_message() -> None:
    exc = DicomItemError("TRUNCATED", "file ends inside an element value")
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.code, copy.message) == ("TRUNCATED", "file ends inside an element value")
    with pytest.raises(ValueError):
        DicomItemError("NOT_A_CODE", "x")
