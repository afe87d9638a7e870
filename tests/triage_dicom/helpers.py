"""Helpers for the DICOM-layer tests: real pydicom test files, byte-level rewrites, error and leak assertions."""

from __future__ import annotations

import io
import warnings
from functools import cache
from typing import Any

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import UID, UID_dictionary

from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.inspect import Caps, read_dataset

KEY = b"project-key-A-0123456789abcdef01"
OTHER_KEY = b"project-key-B-0123456789abcdef01"
UID_PATTERN = r"[0-9]+(\.[0-9]+)+"


@cache
def raw(name: str) -> bytes:
    """The bytes of one of pydicom's (or pydicom-data's) real test files."""
    path = get_testdata_file(name)
    assert path is not None, f"test file {name} is not installed"
    with open(str(path), "rb") as fh:
        return fh.read()


def load(name: str) -> Dataset:
    with warnings.catch_warnings():  # pydicom warns about the odd values some test files carry on purpose
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(raw(name)), force=True)
        for _ in ds.iterall():  # convert every raw element now, inside the filter
            pass
    return ds


def to_bytes(ds: Dataset) -> bytes:
    """A Part 10 file (preamble, DICM, meta) for a data set edited in memory."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def rewrite(name: str, **changes: Any) -> bytes:
    """A real file with some header attributes changed (None deletes), written back as a Part 10 file."""
    ds = load(name)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                setattr(ds, keyword, value)
    return to_bytes(ds)


def with_transfer_syntax(name: str, uid: str) -> bytes:
    """The file's bytes with only (0002,0010) replaced; the data set bytes after the meta stay untouched."""
    data = raw(name)
    ds = load(name)
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    meta = FileMetaDataset(ds.file_meta)
    meta.TransferSyntaxUID = UID(uid)
    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, False
    write_file_meta_info(buf, meta, enforce_standard=True)
    return data[:128] + b"DICM" + buf.getvalue() + data[meta_end:]


def with_preamble(data: bytes, preamble: bytes) -> bytes:
    return preamble.ljust(128, b"\x00")[:128] + data[128:]


def expect_error(data: bytes, code: str, caps: Caps | None = None) -> DicomItemError:
    try:
        read_dataset(data, caps or Caps())
    except DicomItemError as exc:
        assert exc.code == code, f"expected {code}, got {exc.code}: {exc.message}"
        return exc
    raise AssertionError(f"expected {code}, but the file was accepted")


@cache
def _file_strings(name: str) -> frozenset[str]:
    """Every textual value of a real file that could identify something (names, IDs, dates, UIDs, free text)."""
    values: set[str] = set()
    for elem in load(name).iterall():
        if elem.VR in ("SQ", "OB", "OW", "UN", "US", "SS", "UL", "SL", "FL", "FD", "IS", "DS", "AT", "CS"):
            continue
        items = elem.value if isinstance(elem.value, list | tuple) else [elem.value]
        for item in items:
            text = str(item).strip()
            if len(text) >= 4 and text not in UID_dictionary:
                values.add(text)
    return frozenset(values)


def assert_no_file_values(text: str, name: str) -> None:
    leaked = sorted(v for v in _file_strings(name) if v in text)
    assert not leaked, f"message quotes values from the file: {leaked}"
