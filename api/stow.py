"""DICOMweb STOW-RS bodies (`multipart/related; type="application/dicom"`) streamed into a zip artifact.

Each part becomes one member of a stored (uncompressed) zip written as the body streams, so a STOW request
ends up as the same input a zip upload gives and the triage worker reads it the same way. Parts are never
parsed here (DICOM is parsed only in killable worker processes), and members get our own names
(part-000001.dcm), never anything the client sent.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from api.errors import EmptyInput, MalformedBody
from api.uploads import PartCallbacks, PendingUpload, body_chunks, check_content_length
from core.errors import BadRequest, UnsupportedMediaType

DICOM_PART_TYPE = b"application/dicom"


class _Sink:
    """A write-only, unseekable stream: zipfile then writes data descriptors and tracks offsets itself, so the
    archive can be produced strictly in order. Bytes wait here until the async side moves them to disk."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class _StowParts(PartCallbacks):
    def __init__(self, max_parts: int) -> None:
        super().__init__()
        self.max_parts = max_parts
        self.sink = _Sink()
        self.archive = zipfile.ZipFile(self.sink, "w", compression=zipfile.ZIP_STORED)
        self.parts = 0
        self.ended = False
        self._member: IO[bytes] | None = None
        self._part_type = b""

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.max_parts:
            raise BadRequest(f"too many instances in one STOW-RS request (at most {self.max_parts})")
        self._part_type = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        if name == b"content-type":
            self._part_type = value.split(b";", 1)[0].strip().lower()

    def on_headers_finished(self) -> None:
        if self._part_type and self._part_type != DICOM_PART_TYPE:
            raise UnsupportedMediaType(
                f"STOW-RS part {self.parts} has Content-Type {self._part_type.decode('latin-1')!r}; "
                "only application/dicom instances are accepted"
            )
        self._member = self.archive.open(f"part-{self.parts:06d}.dcm", "w")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        assert self._member is not None
        self._member.write(data[start:end])

    def on_part_end(self) -> None:
        if self._member is not None:
            self._member.close()
            self._member = None

    def on_end(self) -> None:
        self.ended = True


async def read_stow(request: Request, root: Path, max_bytes: int, max_parts: int) -> PendingUpload:
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype.lower() != b"multipart/related":
        raise UnsupportedMediaType('STOW-RS takes multipart/related; type="application/dicom"')
    declared = options.get(b"type", DICOM_PART_TYPE).lower()
    if declared != DICOM_PART_TYPE:
        raise UnsupportedMediaType(
            f"STOW-RS type {declared.decode('latin-1')!r} is not supported; send application/dicom parts"
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedBody("multipart body without a boundary")
    check_content_length(request, max_bytes)
    upload = PendingUpload(root, max_bytes)
    parts = _StowParts(max_parts)
    parser = parts.parser(boundary)

    async def drain() -> None:
        if parts.sink.buffer:
            data = bytes(parts.sink.buffer)
            parts.sink.buffer.clear()
            await upload.write(data)  # counts against max_bytes: the cap fires mid-stream

    try:
        async for chunk in body_chunks(request):
            parser.write(chunk)
            await drain()
        parser.finalize()
        if not parts.ended:
            raise MalformedBody("truncated multipart body (no closing boundary)")
        if parts.parts == 0:
            raise EmptyInput("the STOW-RS request carries no instances")
        parts.archive.close()
        await drain()
    except FormParserError as exc:
        upload.abort()
        raise MalformedBody("invalid multipart/related body") from exc
    except BaseException:
        upload.abort()
        raise
    return upload
