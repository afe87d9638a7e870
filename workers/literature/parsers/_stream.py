"""Byte-level streaming shared by the literature readers: transparent gzip, bounded lines, XML record splitting.

Everything here works on bytes and holds at most one record (bounded by max_record_bytes) plus one read chunk,
whatever the input size. Decoding and parsing happen per record in the format modules, so a bad record stays
one item's error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from core.errors import InvalidInput
from workers.literature.safexml import MAX_PROLOG_BYTES, Prolog, scan_prolog
from workers.textstream import GZIP_ERRORS, corrupt_gzip

CHUNK = 1 << 20
KEY_MAX_CHARS = 255  # width of the item_key columns


def chunks(stream: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    try:
        while block := stream.read(size):
            yield block
    except GZIP_ERRORS as exc:
        raise corrupt_gzip(exc) from exc


def short_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()[:KEY_MAX_CHARS]
    return key or None


@dataclass(frozen=True, slots=True)
class RawRecord:
    data: bytes  # the record's bytes; for a too-long record only its first bytes (to find an id in)
    status: str  # "ok", "truncated" (no end tag before the next record or the end of input), "too_long"


def xml_records(blocks: Iterable[bytes], tags: tuple[str, ...], max_record_bytes: int) -> Iterator[RawRecord]:
    """Split an XML byte stream into the elements named `tags`, without parsing it.

    A record runs from its start tag to its end tag. Records of these types never nest, so a start tag met
    before the end tag means the record was cut short: it is reported "truncated" and the split goes on from
    the new record, which is how one damaged record leaves its neighbours readable. Bytes between records
    (the root element, whitespace, deletions lists) are skipped.
    """
    names = "|".join(re.escape(t) for t in tags)
    start_re = re.compile(rf"<({names})[\s>/]".encode())
    end_res = {t: re.compile(rf"</{re.escape(t)}\s*>".encode()) for t in tags}
    keep = max(len(t) for t in tags) + 3  # a tag cut by a chunk boundary must be found once completed
    source = iter(blocks)
    # `buf[pos:]` is the unconsumed input; it is compacted only when a block is appended (not per record).
    buf = b""
    pos = 0
    eof = False

    def fill() -> None:
        nonlocal buf, pos, eof
        block = next(source, b"")
        if block:
            buf = buf[pos:] + block
            pos = 0
        else:
            eof = True

    while True:
        m = start_re.search(buf, pos)
        if m is None:
            if eof:
                return
            pos = max(pos, len(buf) - keep)
            fill()
            continue
        pos = m.start()
        end_re = end_res[m.group(1).decode()]
        skipping = False  # inside a record already reported too long: discard up to its end
        scanned = pos + 1
        while True:
            end = end_re.search(buf, scanned)
            nxt = start_re.search(buf, max(pos + 1, scanned - keep), end.start() if end else len(buf))
            if nxt is not None:
                if not skipping:
                    yield _bounded(buf, pos, nxt.start(), "truncated", max_record_bytes)
                pos = nxt.start()
                break
            if end is not None:
                if not skipping:
                    yield _bounded(buf, pos, end.end(), "ok", max_record_bytes)
                pos = end.end()
                break
            if not skipping and len(buf) - pos > max_record_bytes:
                yield RawRecord(buf[pos : pos + 65536], "too_long")
                skipping = True
            if eof:
                if not skipping:
                    yield _bounded(buf, pos, len(buf), "truncated", max_record_bytes)
                return
            if skipping:
                pos = max(pos, len(buf) - keep - 1)  # the record's bytes are no longer needed
            scanned_from_pos = max(1, len(buf) - pos - keep)
            fill()
            scanned = pos + scanned_from_pos


def _bounded(buf: bytes, start: int, end: int, status: str, max_record_bytes: int) -> RawRecord:
    """A record found whole within one buffer may still be over the limit (the buffer grows a block at a time)."""
    if end - start > max_record_bytes:
        return RawRecord(buf[start : start + 65536], "too_long")
    return RawRecord(buf[start:end], status)


def take_prolog(blocks: Iterable[bytes]) -> tuple[Prolog, Iterator[bytes]]:
    """Check an XML input's prolog (safexml); returns it and the input, replayed from its first byte.
    Raises XmlRejected: an unsafe or malformed prolog is judged before any record is touched."""
    source = iter(blocks)
    head = b""
    while True:
        block = next(source, b"")
        head += block
        prolog = scan_prolog(head, final=not block or len(head) >= MAX_PROLOG_BYTES)
        if prolog is not None:
            return prolog, itertools.chain((head,), source)


# One JSON token that matters for splitting: a string (possibly cut by the end of the buffer, then group 1 is
# None) or a bracket. Numbers, literals, commas and colons are skipped by the search.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]+|\\.)*(")?|[{}\[\]]', re.S)


def json_array_items(blocks: Iterable[bytes], key: bytes, max_record_bytes: int) -> Iterator[RawRecord]:
    """The objects of the array under `key` in the top-level JSON object, as raw bytes, without parsing the
    whole document (BioC JSON collections run to gigabytes). Brackets inside strings are skipped; a document
    that is cut off ends the scan with a "truncated" record."""
    source = iter(blocks)
    buf = b""
    pos = 0
    depth = 0
    array_depth = -1  # depth inside the wanted array, once entered
    last_string = b""  # the most recent string at depth 1: the key of what follows
    start = -1  # start of the current array element, -1 when outside one or when skipping a too-long one
    skipping = False
    while True:
        m = _JSON_TOKEN.search(buf, pos)
        if m is None or (m.group(0)[:1] == b'"' and m.group(1) is None):
            keep_from = m.start() if m is not None else len(buf)
            if start >= 0 and not skipping and len(buf) - start > max_record_bytes:
                yield RawRecord(buf[start : start + 65536], "too_long")
                skipping = True
            base = start if start >= 0 and not skipping else keep_from
            block = next(source, b"")
            if not block:
                if start >= 0 and not skipping:
                    yield _bounded(buf, start, len(buf), "truncated", max_record_bytes)
                if array_depth == -1:
                    raise InvalidInput(f"the JSON input has no top-level {key.decode()!r} array")
                return
            buf = buf[base:] + block
            pos = keep_from - base
            start = 0 if start >= 0 and not skipping else -1
            continue
        pos = m.end()
        token = m.group(0)
        if token[:1] == b'"':
            if depth == 1:
                last_string = token[1:-1]
            continue
        if token in (b"{", b"["):
            if depth == array_depth and token == b"{" and start < 0 and not skipping:
                start = m.start()
            depth += 1
            if token == b"[" and depth == 2 and array_depth == -1 and last_string == key:
                array_depth = 2
            continue
        depth -= 1
        if depth == array_depth:
            if start >= 0 and not skipping:
                yield _bounded(buf, start, pos, "ok", max_record_bytes)
            start, skipping = -1, False
        elif depth < array_depth:
            array_depth = -2  # the array is closed; the rest of the document is not read into records
