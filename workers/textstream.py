"""Byte streams of stored uploads, shared by the domain readers: gzip recognised by content, bounded lines.

Uploads are stored under their sha256 with no name, so compression is told from the first bytes. Lines are read
with a byte cap, so one huge line costs one bounded read and becomes a single "too long" record.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from core.errors import InvalidInput

GZIP_MAGIC = b"\x1f\x8b"
# What a damaged gzip member raises while it is read; any other OSError is the host's fault, not the input's.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


@contextmanager
def open_upload(path: Path) -> Iterator[tuple[IO[bytes], bool]]:
    """(byte stream, compressed): the stored upload, inflated when it is gzip."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            yield raw, False
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as inflated:
            yield cast(IO[bytes], inflated), True


def corrupt_gzip(exc: BaseException) -> InvalidInput:
    return InvalidInput(f"gzip input is corrupt or truncated: {exc}")


def bounded_lines(stream: IO[bytes], max_bytes: int) -> Iterator[bytes | None]:
    """Physical lines with their line ending (a leading UTF-8 BOM dropped); None stands for a line longer than
    max_bytes, whose rest is skipped."""
    try:
        line = stream.readline(max_bytes + 1).removeprefix(b"\xef\xbb\xbf")
        while line:
            if len(line) > max_bytes:
                while line and not line.endswith(b"\n"):
                    line = stream.readline(max_bytes + 1)
                yield None
            else:
                yield line
            line = stream.readline(max_bytes + 1)
    except GZIP_ERRORS as exc:
        raise corrupt_gzip(exc) from exc
