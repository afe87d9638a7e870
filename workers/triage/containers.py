"""Splitting a triage upload into instances: one DICOM Part 10 file, or a zip archive of them.

Light (standard library only): ingest runs it to create shards, the pipeline to read an instance's bytes back.
Items carry only the member's position in the archive, never its name: uploaded names ("DOE_JOHN/IM1.dcm")
can identify a patient and must not reach the database. Reads are bounded while streaming; declared sizes in
the archive are only used to refuse early, never trusted.
"""

from __future__ import annotations

import io
import posixpath
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from core.enums import ItemErrorCode
from core.errors import UnsupportedMediaType
from workers.plugin import Item
from workers.triage.params import TriageParams

_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima", ".dc3")
# Files archivers add on their own; they are not instances, so they are not items.
_JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_CHUNK = 1 << 20


class MemberError(Exception):
    """An archive member that cannot become an instance; `code` is an ItemErrorCode value."""

    def __init__(self, code: ItemErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code.value
        self.message = message


def detect_format(filename: str | None, head: bytes, params: TriageParams) -> str:
    if params.input_format != "auto":
        return params.input_format
    if head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    name = (filename or "").lower()
    # Part 10 files without the preamble start with a group 0002/0008 tag; the pipeline decides per item.
    if head[:2] in (b"\x02\x00", b"\x08\x00") or name.endswith(_DICOM_SUFFIXES):
        return "dicom"
    raise UnsupportedMediaType(
        "triage takes a DICOM Part 10 file or a zip archive of them; this upload is neither "
        "(set parameters.input_format to override the detection)"
    )


def _is_junk(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and (parts[0] == "__MACOSX" or parts[-1] in _JUNK_NAMES or parts[-1].startswith("._"))


def unsafe_name(name: str) -> bool:
    """Absolute, drive-qualified or parent-escaping names. We never extract to paths named by members, but
    such an archive was built to attack someone's extractor: it is reported, not read."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":") or "\x00" in unified:
        return True
    normalized = posixpath.normpath(unified)
    return normalized == ".." or normalized.startswith("../")


def iter_items(path: Path, fmt: str, params: TriageParams, *, max_file_bytes: int) -> Iterator[Item]:
    if fmt == "dicom":
        yield Item(0, None, {})
        return
    if fmt != "zip":
        raise UnsupportedMediaType(f"unknown triage input format {fmt!r}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsupportedMediaType("the upload is not a readable zip archive") from exc
    with archive:
        index = 0
        for ordinal, info in enumerate(archive.infolist()):
            if info.is_dir() or _is_junk(info.filename):
                continue
            error = _member_problem(info, max_file_bytes)
            yield Item(index, None, {"m": ordinal}, error)
            index += 1


def _member_problem(info: zipfile.ZipInfo, max_file_bytes: int) -> tuple[str, str] | None:
    if unsafe_name(info.filename):
        return ItemErrorCode.UNSAFE_PATH.value, "archive member name is absolute or escapes the archive root"
    if info.flag_bits & 0x1:
        return ItemErrorCode.NOT_DICOM.value, "archive member is encrypted"
    if info.file_size > max_file_bytes:
        return ItemErrorCode.OVERSIZED.value, f"archive member declares {info.file_size} bytes; cap {max_file_bytes}"
    return None


def _read_bounded(stream: IO[bytes], max_file_bytes: int) -> bytes:
    buf = io.BytesIO()
    while chunk := stream.read(_CHUNK):
        if buf.tell() + len(chunk) > max_file_bytes:
            raise MemberError(ItemErrorCode.OVERSIZED, f"instance exceeds the cap of {max_file_bytes} bytes")
        buf.write(chunk)
    return buf.getvalue()


class InputReader:
    """Reads instance bytes back from the stored upload. Keeps the last archive open: a shard's items come
    from one input, and re-reading a large central directory per item would dominate small instances."""

    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._archive: zipfile.ZipFile | None = None

    def read(self, path: Path, payload: dict[str, object]) -> bytes:
        ordinal = payload.get("m")
        if ordinal is None:
            with path.open("rb") as fh:
                return _read_bounded(fh, self.max_file_bytes)
        if not isinstance(ordinal, int):
            raise MemberError(ItemErrorCode.PROCESSING_ERROR, "malformed shard payload")
        with self._lock:
            archive = self._open(path)
            info = archive.infolist()[ordinal]
            try:
                with archive.open(info) as member:
                    return _read_bounded(member, self.max_file_bytes)
            except MemberError:
                raise
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise MemberError(ItemErrorCode.TRUNCATED, "archive member is corrupt or truncated") from exc
            except NotImplementedError as exc:  # compression method zipfile cannot read
                raise MemberError(ItemErrorCode.NOT_DICOM, "archive member uses an unsupported compression") from exc

    def _open(self, path: Path) -> zipfile.ZipFile:
        if self._path != path or self._archive is None:
            if self._archive is not None:
                self._archive.close()
            self._archive = zipfile.ZipFile(path)
            self._path = path
        return self._archive

    def close(self) -> None:
        with self._lock:
            if self._archive is not None:
                self._archive.close()
            self._archive, self._path = None, None
