"""Streaming request bodies into the artifact store, never holding a whole upload in memory.

Multipart is parsed here with python_multipart's MultipartParser fed from request.stream(), not with
Starlette's form parser, because that one spools every file to a temp file first (a second full copy) and
only then lets us look at it. Here the file part's bytes go straight into the content-addressed store,
hashed and counted as they arrive, and the size cap fires mid-stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from api.errors import MalformedBody
from core.artifacts import HEAD_BYTES, ArtifactWriter, StoredArtifact
from core.errors import BadRequest, InvalidInput, PayloadTooLarge, RequestTimeout
from core.settings import get_settings

FILE_FIELD = "file"
FORM_FIELDS = frozenset({"domain", "parameters", "name", "priority", "device"})
MAX_PARTS = 16
MAX_FIELD_BYTES = 64 * 1024
MAX_JSON_BODY_BYTES = 64 * 1024 * 1024
# Disk writes and hashing run off the event loop in batches of this size.
WRITE_BATCH_BYTES = 1024 * 1024


def check_content_length(request: Request, cap: int) -> None:
    """Refuse before reading a byte when the client announces too much (chunked bodies are capped as they
    stream instead)."""
    raw = request.headers.get("content-length")
    if raw is None:
        return
    try:
        length = int(raw)
    except ValueError as exc:
        raise BadRequest("invalid Content-Length header") from exc
    if length > cap:
        raise PayloadTooLarge(f"request body of {length} bytes exceeds the limit of {cap} bytes")


async def body_chunks(request: Request) -> AsyncIterator[bytes]:
    """request.stream(), but a client that stops sending mid-body gets 408 after upload_idle_timeout_s instead of
    holding its connection and partial upload forever (uvicorn has no body timeout of its own)."""
    idle_s = get_settings().upload_idle_timeout_s
    chunks = request.stream().__aiter__()
    while True:
        try:
            with anyio.fail_after(idle_s):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise RequestTimeout(f"no request body data for {idle_s:g} s") from exc
        yield chunk


class PendingUpload:
    """An upload on its way into the artifact store: hashed and counted as it streams, renamed to its sha256
    only by commit() (after the request was validated), and removed by abort()."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.head = bytearray()  # for format detection before commit
        self._writer = ArtifactWriter(root, max_bytes)
        self._buffer = bytearray()

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(f"upload exceeds the limit of {self.max_bytes} bytes")
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self._buffer += data
        if len(self._buffer) >= WRITE_BATCH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            await anyio.to_thread.run_sync(self._writer.write, chunk)

    async def commit(self) -> StoredArtifact:
        await self._flush()
        return await anyio.to_thread.run_sync(self._writer.commit)

    def abort(self) -> None:
        self._buffer.clear()
        self._writer.abort()


async def read_raw(request: Request, root: Path, max_bytes: int) -> PendingUpload:
    upload = PendingUpload(root, max_bytes)
    try:
        async for chunk in body_chunks(request):
            if chunk:
                await upload.write(chunk)
    except BaseException:
        upload.abort()
        raise
    return upload


async def read_json(request: Request, cap: int = MAX_JSON_BODY_BYTES) -> Any:
    """Inline-items bodies are small by contract (<= 100k items), so they are parsed in memory, capped."""
    check_content_length(request, cap)
    body = bytearray()
    async for chunk in body_chunks(request):
        body += chunk
        if len(body) > cap:
            raise PayloadTooLarge(f"JSON body exceeds the limit of {cap} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody("request body is not valid JSON") from exc


@dataclass
class MultipartUpload:
    fields: dict[str, str] = field(default_factory=dict)
    upload: PendingUpload | None = None
    filename: str | None = None


class PartCallbacks:
    """The MultipartParser callbacks every body shape shares: part headers collected into on_header(name,
    value). Subclasses add the part and data callbacks they need; parser() wires whichever exist."""

    _CALLBACKS = (
        "on_part_begin",
        "on_part_data",
        "on_part_end",
        "on_header_field",
        "on_header_value",
        "on_header_end",
        "on_headers_finished",
        "on_end",
    )

    def __init__(self) -> None:
        self._header_name = bytearray()
        self._header_value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self.on_header(bytes(self._header_name).strip().lower(), bytes(self._header_value))
        self._header_name.clear()
        self._header_value.clear()

    def on_header(self, name: bytes, value: bytes) -> None:
        """One complete part header; `name` lower-cased."""

    def parser(self, boundary: bytes) -> MultipartParser:
        callbacks = {name: getattr(self, name) for name in self._CALLBACKS if hasattr(self, name)}
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]  # a TypedDict built by name


class _Parts(PartCallbacks):
    """MultipartParser callbacks. They cannot await, so file bytes are queued and written after each feed."""

    def __init__(
        self,
        root: Path,
        max_bytes: int,
        on_file_start: Callable[[dict[str, str]], None] | None,
        allowed_fields: frozenset[str] = FORM_FIELDS,
    ) -> None:
        super().__init__()
        self.root = root
        self.allowed_fields = allowed_fields
        self.max_bytes = max_bytes
        self.on_file_start = on_file_start
        self.result = MultipartUpload()
        self.pending_file_data: list[bytes] = []
        self.ended = False
        self._parts = 0
        self._disposition = b""
        self._field: str | None = None  # name of the current non-file part
        self._field_data = bytearray()
        self._in_file = False

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._field = None
        self._field_data.clear()
        self._in_file = False
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise BadRequest(f"too many multipart parts (at most {MAX_PARTS})")

    def on_header(self, name: bytes, value: bytes) -> None:
        if name == b"content-disposition":
            self._disposition = value

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            if name != FILE_FIELD:
                raise InvalidInput(f"file parts must be named {FILE_FIELD!r}, not {name!r}")
            if self.result.upload is not None:
                raise BadRequest("exactly one file part is allowed")
            if self.on_file_start is not None:
                # Fail fast (before streaming a large file) when the fields already sent are invalid.
                self.on_file_start(self.result.fields)
            self.result.filename = options[b"filename"].decode("utf-8", "replace")
            self.result.upload = PendingUpload(self.root, self.max_bytes)
            self._in_file = True
            return
        if name not in self.allowed_fields:
            raise InvalidInput(f"unknown form field {name!r}", details={"allowed": sorted(self.allowed_fields)})
        if name in self.result.fields:
            raise BadRequest(f"form field {name!r} given twice")
        self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending_file_data.append(data[start:end])
            return
        self._field_data += data[start:end]
        if len(self._field_data) > MAX_FIELD_BYTES:
            raise PayloadTooLarge(f"form field {self._field!r} exceeds {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._in_file or self._field is None:
            return
        try:
            self.result.fields[self._field] = self._field_data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"form field {self._field!r} is not UTF-8") from exc

    def on_end(self) -> None:
        self.ended = True


async def read_multipart(
    request: Request,
    root: Path,
    max_bytes: int,
    *,
    on_file_start: Callable[[dict[str, str]], None] | None = None,
    allowed_fields: frozenset[str] = FORM_FIELDS,
) -> MultipartUpload:
    _ctype, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedBody("multipart body without a boundary")
    # Everything except the file is small: the file cap plus bounded fields and part headers.
    body_cap = max_bytes + MAX_PARTS * (MAX_FIELD_BYTES + 8 * 1024)
    check_content_length(request, body_cap)
    parts = _Parts(root, max_bytes, on_file_start, allowed_fields)
    parser = parts.parser(boundary)
    received = 0
    try:
        async for chunk in body_chunks(request):
            received += len(chunk)
            if received > body_cap:
                raise PayloadTooLarge(f"request body exceeds the limit of {body_cap} bytes")
            parser.write(chunk)
            if parts.pending_file_data:
                upload = parts.result.upload
                assert upload is not None
                for data in parts.pending_file_data:
                    await upload.write(data)
                parts.pending_file_data.clear()
        parser.finalize()
        if not parts.ended:
            raise MalformedBody("truncated multipart body (no closing boundary)")
    except FormParserError as exc:
        if parts.result.upload is not None:
            parts.result.upload.abort()
        raise MalformedBody("invalid multipart body") from exc
    except BaseException:
        if parts.result.upload is not None:
            parts.result.upload.abort()
        raise
    return parts.result
