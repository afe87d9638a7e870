"""Content-addressed store for input files: <artifact_dir>/<aa>/<bb>/<sha256>.

Paths derive only from the digest, never from a user's file name. Writes go to a temp file in the same
directory and are renamed into place, so a crash never leaves a half file under a real digest.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import PayloadTooLarge


@dataclass(frozen=True)
class StoredArtifact:
    sha256: str
    size_bytes: int
    path: Path
    head: bytes  # first bytes, for format sniffing without reopening


HEAD_BYTES = 8192


def artifact_path(root: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return root / sha256[:2] / sha256[2:4] / sha256


class ArtifactWriter:
    """Streams chunks to disk, hashing and counting; raises PayloadTooLarge as soon as the cap is passed."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=root)
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = bytearray()

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(f"upload exceeds the limit of {self.max_bytes} bytes")
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._hash.update(chunk)
        self._fh.write(chunk)

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def commit(self) -> StoredArtifact:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        digest = self._hash.hexdigest()
        final = artifact_path(self.root, digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            self._tmp.unlink(missing_ok=True)  # same content already stored
        else:
            os.replace(self._tmp, final)
        return StoredArtifact(digest, self._size, final, bytes(self._head))


def store_chunks(root: Path, chunks: Iterable[bytes], max_bytes: int) -> StoredArtifact:
    writer = ArtifactWriter(root, max_bytes)
    try:
        for chunk in chunks:
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.commit()


async def store_async_chunks(root: Path, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredArtifact:
    writer = ArtifactWriter(root, max_bytes)
    try:
        async for chunk in chunks:
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.commit()
