"""From uploaded bytes to a pydicom Dataset whose header has been checked, or a DicomItemError with a fixed code.

Order of checks, cheapest and most hostile first: size cap -> preamble and "DICM" magic -> byte-level framing
(framing.py: truncation, nesting, deflate bombs) -> pydicom parse -> DICOMDIR -> Pixel Data present -> Image
Pixel module and caps (header.py) -> transfer syntax decodable -> Pixel Data length. Nothing is decoded here.

Preamble rule (SUSPICIOUS_PREAMBLE). PS3.10 7.1 leaves the 128-byte preamble to application profiles and asks
for zeros when it is unused; the one legitimate content we accept is a TIFF header, which makes the file a
DICOM/TIFF dual-personality image (whole-slide and some vendor exports; pydicom's own CT_small.dcm is one).
Anything else turns the file into a polyglot that another program may execute or unpack (a PE or ELF header, a
ZIP local header, a PDF, a shell script). So: all zeros -> fine; starts with a TIFF or BigTIFF header ("II*\\0",
"MM\\0*", "II+\\0", "MM\\0+") -> fine; anything else -> SUSPICIOUS_PREAMBLE, the message naming the signature
class when it is a known executable, archive or document one. Vendors that fill the preamble with other bytes
are rejected too: we cannot tell their junk from a payload, and re-exporting with a zero preamble fixes it.

Files without preamble and magic (old ACR-NEMA style exports) are accepted only when the first element is in
group 0002 or 0008, the whole stream frames cleanly, and the parsed data set has syntactically valid SOP Class
and SOP Instance UIDs; pydicom's force mode alone would turn any byte string into a "data set".
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, fields
from io import BytesIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, UID_dictionary

from core.enums import ItemErrorCode
from workers.triage.dicom import framing
from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.header import check_pixel_data, check_transfer_syntax, image_header, str_value
from workers.triage.dicom.quiet import quiet_pydicom

MIB = 1024 * 1024
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")

_TIFF_HEADERS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable (MZ)"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"#!", "a script (#!)"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip stream"),
    (b"BZh", "a bzip2 stream"),
    (b"\xfd7zXZ\x00", "an xz stream"),
    (b"(\xb5/\xfd", "a zstd stream"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf'\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE compound document"),
    (b"<?xml", "markup"),
    (b"<!DOCTYPE", "markup"),
    (b"<html", "markup"),
    (b"<script", "markup"),
)


@dataclass(frozen=True)
class Caps:
    """Limits checked from the header before decoding; the pipeline builds one from settings."""

    max_file_bytes: int = 512 * MIB
    max_rows: int = 16384
    max_cols: int = 16384
    max_frames: int = 2048
    max_decoded_bytes: int = 1024 * MIB

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"Caps.{f.name} must be positive")


def check_preamble(preamble: bytes) -> None:
    """Apply the preamble rule in the module docstring."""
    if not any(preamble) or preamble.startswith(_TIFF_HEADERS):
        return
    for signature, label in _SIGNATURES:
        if preamble.startswith(signature):
            raise DicomItemError(ItemErrorCode.SUSPICIOUS_PREAMBLE, f"the preamble starts like {label}")
    raise DicomItemError(
        ItemErrorCode.SUSPICIOUS_PREAMBLE, "the preamble is neither zeros nor a TIFF header (possible polyglot file)"
    )


def _not_dicom(message: str) -> DicomItemError:
    return DicomItemError(ItemErrorCode.NOT_DICOM, message)


def _locate(raw: bytes) -> tuple[framing.FileMeta, bool, bool]:
    """Where the data set starts, its declared syntax, whether it is little endian, whether it had the magic."""
    if len(raw) >= 132 and raw[128:132] == b"DICM":
        check_preamble(raw[:128])
        meta = framing.read_file_meta(raw, 132)
        return meta, meta.transfer_syntax != framing.TS_EXPLICIT_BE, True
    if len(raw) < 132 and not any(raw[:128]) and raw[128:] == b"DICM"[: max(0, len(raw) - 128)]:
        raise DicomItemError(ItemErrorCode.TRUNCATED, "file ends inside the 128-byte preamble")
    try:
        meta = framing.read_file_meta(raw, 0) if raw[:2] == b"\x02\x00" else framing.FileMeta(0, None)
    except DicomItemError:
        raise _not_dicom("no DICOM preamble and magic, and no readable file meta information") from None
    first_group = raw[meta.dataset_offset : meta.dataset_offset + 2]
    if first_group not in (b"\x08\x00", b"\x00\x08"):
        raise _not_dicom("no DICOM preamble and magic, and the content does not start like a DICOM data set")
    return meta, first_group == b"\x08\x00", False


def _check_framing(raw: bytes, meta: framing.FileMeta, little: bool, caps: Caps) -> None:
    buf, offset = raw, meta.dataset_offset
    if meta.transfer_syntax == framing.TS_DEFLATED_LE:
        buf, offset = framing.inflate(raw, offset, caps.max_file_bytes), 0
    if not framing.check_framing(buf, offset, framing.sniff_encoding(buf, offset, little)):
        raise DicomItemError(ItemErrorCode.TRUNCATED, "file ends before the data set")


def _parse(raw: bytes) -> Dataset:
    try:
        return pydicom.dcmread(BytesIO(raw), force=True)
    except MemoryError:
        raise
    except InvalidDicomError:
        raise _not_dicom("file could not be parsed as DICOM") from None
    except (EOFError, zlib.error):
        raise DicomItemError(ItemErrorCode.TRUNCATED, "file ends inside the data set") from None
    except Exception:  # the exception text may quote header values: only our words go out
        raise _not_dicom("file could not be parsed as DICOM") from None


def _is_uid(value: str | None) -> bool:
    return value is not None and len(value) <= 64 and _UID_RE.match(value) is not None


def _resolve_transfer_syntax(ds: Dataset, declared: str | None) -> str:
    """The declared syntax, or for a file without one, the native syntax pydicom found the data set in."""
    if declared:
        return declared
    if "PixelData" in ds and ds["PixelData"].is_undefined_length:
        raise DicomItemError(
            ItemErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "encapsulated Pixel Data without a declared transfer syntax"
        )
    implicit, little = ds.original_encoding
    uid = framing.TS_IMPLICIT_LE if implicit else framing.TS_EXPLICIT_LE
    if little is False:  # None (unknown) reads as little endian, the default encoding
        uid = framing.TS_EXPLICIT_BE
    if not isinstance(getattr(ds, "file_meta", None), FileMetaDataset):
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(uid)  # decoders read the syntax from here
    return uid


def _is_image_sop_class(uid: str | None) -> bool:
    # The registry names every class whose IOD mandates pixels "... Image Storage" (CT, CR, DX, US, SC, VL...).
    entry = UID_dictionary.get(uid) if uid else None
    return entry is not None and "Image Storage" in entry[0]


def _check_pixel_data_present(ds: Dataset, media_class: str | None) -> None:
    if "PixelData" in ds:
        return
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        raise DicomItemError(ItemErrorCode.NO_PIXEL_DATA, "only float Pixel Data, which triage does not read")
    if "PixelDataProviderURL" in ds:
        raise DicomItemError(
            ItemErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, "Pixel Data is referenced by URL (JPIP), not carried in the file"
        )
    image_module = all(k in ds for k in ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation"))
    if image_module or _is_image_sop_class(str_value(ds, "SOPClassUID") or media_class):
        # An image IOD (or the Image Pixel module) always comes with Pixel Data: the file was cut between two
        # elements, where the framing check cannot see it.
        raise DicomItemError(ItemErrorCode.TRUNCATED, "image attributes present but the file ends before Pixel Data")
    raise DicomItemError(ItemErrorCode.NO_PIXEL_DATA, "the object carries no image (no Pixel Data)")


def _read(raw: bytes, caps: Caps) -> Dataset:
    if not raw:
        raise _not_dicom("the file is empty")
    if len(raw) > caps.max_file_bytes:
        raise DicomItemError(
            ItemErrorCode.OVERSIZED, f"file of {len(raw)} bytes exceeds the cap of {caps.max_file_bytes} bytes"
        )
    meta, little, has_magic = _locate(raw)
    if meta.media_storage_sop_class == DICOMDIR_SOP_CLASS:
        raise DicomItemError(ItemErrorCode.DICOMDIR, "a DICOMDIR media directory, not an image instance")
    try:
        _check_framing(raw, meta, little, caps)
    except DicomItemError as exc:
        # Without the magic nothing says this was ever DICOM: a stream that does not frame is not a cut file.
        if has_magic or exc.code == ItemErrorCode.OVERSIZED:
            raise
        raise _not_dicom("no DICOM preamble and magic, and the content does not frame as a DICOM data set") from None
    ds = _parse(raw)
    media_class = meta.media_storage_sop_class
    if media_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
        raise DicomItemError(ItemErrorCode.DICOMDIR, "a DICOMDIR media directory, not an image instance")
    identified = _is_uid(str_value(ds, "SOPClassUID")) and _is_uid(str_value(ds, "SOPInstanceUID"))
    if not has_magic and not identified:
        raise _not_dicom("no DICOM preamble and magic, and no valid SOP Class and Instance UIDs")
    _check_pixel_data_present(ds, media_class)
    transfer_syntax = _resolve_transfer_syntax(ds, meta.transfer_syntax)
    header = image_header(ds, caps, transfer_syntax)
    check_transfer_syntax(transfer_syntax)
    check_pixel_data(ds, header)
    return ds


def read_dataset(raw: bytes, caps: Caps | None = None) -> Dataset:
    """Parse and check one uploaded instance. Raises DicomItemError (fixed code, generic message) when bad."""
    with quiet_pydicom():
        return _read(raw, caps or Caps())
