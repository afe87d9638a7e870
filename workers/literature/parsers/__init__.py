"""Literature inputs: format detection (API side, on the upload's first bytes) and streaming items (ingest side).

Light at import: the API imports detect_format, so Biopython and defusedxml are imported only by the readers
that need them. Every reader streams in constant memory and turns a bad record into that item's error.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from core.enums import ItemErrorCode
from core.errors import InvalidInput
from workers.literature.parsers._common import Parsed
from workers.literature.parsers._stream import chunks, short_key
from workers.literature.safexml import XmlRejected, scan_prolog
from workers.plugin import Item
from workers.textstream import GZIP_MAGIC, open_upload

FORMATS = ("pubmed-xml", "medline", "bioc-xml", "bioc-json", "jsonl", "text", "pmids")
SNIFF_BYTES = 8192
DEFAULT_MAX_RECORD_BYTES = 8_000_000

_PUBMED_ROOT = re.compile(rb"<(?:PubmedArticleSet|PubmedArticle|PubmedBookArticle)[\s>]")
_BIOC_ROOT = re.compile(rb"<collection[\s>]")
_BIOC_JSON = re.compile(rb'"documents"\s*:\s*\[')
_PMID_LINE = re.compile(rb"[\d,;\s]*")
_TOKEN_LINE = re.compile(rb"[^\s,;]{1,40}")
_FOREIGN_MAGIC = {
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive (compress a single file with gzip instead)",
    b"BZh": "a bzip2 file (use gzip)",
    b"\xfd7zXZ": "an xz file (use gzip)",
    b"\x28\xb5\x2f\xfd": "a zstd file (use gzip)",
}


def detect_format(filename: str | None, head: bytes, declared: str | None) -> str:
    """The input format from the upload's first bytes (inflated first when gzip). A declared format wins, but
    binary junk and an XML prolog that is already unsafe in the head are refused either way."""
    text = _inflate(head)
    _reject_binary(text, filename)
    if not declared or declared == "auto":
        return _sniff(text)
    if declared not in FORMATS:
        raise InvalidInput(f"unknown literature input format {declared!r}; expected one of {list(FORMATS)}")
    if declared in ("pubmed-xml", "bioc-xml"):
        _check_xml_head(text)
    return declared


def _inflate(head: bytes) -> bytes:
    if not head.startswith(GZIP_MAGIC):
        return head
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, SNIFF_BYTES)
    except zlib.error as exc:
        raise InvalidInput(f"gzip input is corrupt: {exc}") from exc


def _reject_binary(text: bytes, filename: str | None) -> None:
    named = f" ({filename})" if filename else ""
    for magic, what in _FOREIGN_MAGIC.items():
        if text.startswith(magic):
            raise InvalidInput(f"the upload{named} is {what}, not literature text")
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(f"the upload{named} looks like UTF-16 text; save it as UTF-8")
    decoded = text.decode("utf-8", "replace")
    # A multi-byte character cut by the end of the head costs at most a few replacement characters.
    if b"\x00" in text or decoded.count("\ufffd") > max(4, len(decoded) // 50):
        raise InvalidInput(
            f"the upload{named} looks binary; expected PubMed XML, MEDLINE, BioC XML/JSON, JSON lines, "
            "plain text or a PMID list (optionally gzip-compressed)"
        )


def _sniff(text: bytes) -> str:
    body = text.removeprefix(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"<"):
        _check_xml_head(text)
        if _PUBMED_ROOT.search(body):
            return "pubmed-xml"
        if _BIOC_ROOT.search(body):
            return "bioc-xml"
        raise InvalidInput("XML input that is neither a PubmedArticleSet nor a BioC <collection>")
    if body.startswith(b"{"):
        first = body.split(b"\n", 1)[0].strip()
        try:
            value = json.loads(first)
        except ValueError:
            # Pretty-printed (a lone "{"), or a first line longer than the head.
            return "bioc-json" if _BIOC_JSON.search(body) or first == b"{" else "jsonl"
        return "bioc-json" if isinstance(value, dict) and "documents" in value else "jsonl"
    if body.startswith(b"["):
        raise InvalidInput("a JSON array is not accepted; send JSON lines (one object per line) or BioC JSON")
    if body.startswith(b"PMID-"):
        return "medline"
    rows = [r for r in (row.split(b"#", 1)[0].strip() for row in body.splitlines()) if r]
    if rows and all(_PMID_LINE.fullmatch(row) for row in rows):
        return "pmids"
    # A list of single tokens, mostly PMIDs, is a PMID list with typos (each bad token becomes a PARSE_ERROR item),
    # not a text document made of numbers: prose has spaces.
    tokens_only = bool(rows) and all(_TOKEN_LINE.fullmatch(row) for row in rows)
    if tokens_only and sum(1 for row in rows if _PMID_LINE.fullmatch(row)) * 2 >= len(rows):
        return "pmids"
    return "text"


def _check_xml_head(text: bytes) -> None:
    """Refuse at upload what ingest would refuse anyway. Only a conclusive head raises: the head may end
    anywhere, so a prolog it cuts short is left to the reader."""
    try:
        scan_prolog(text)
    except XmlRejected as exc:
        if exc.code == ItemErrorCode.UNSAFE_XML.value:
            raise InvalidInput(f"unsafe XML rejected: {exc.reason}") from exc
        raise InvalidInput(f"the XML input is malformed: {exc.reason}") from exc


def iter_items(
    path: Path, fmt: str, *, require_abstract: bool = True, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[Item]:
    """Items in input order; `index` is the record's 0-based position, errors included."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown literature input format {fmt!r}; expected one of {list(FORMATS)}")
    with open_upload(path) as (stream, _):
        if fmt == "pmids":
            from workers.literature.parsers import pmids

            for index, (key, payload, error) in enumerate(pmids.records(stream, max_record_bytes=max_record_bytes)):
                yield Item(index, key, payload, error)
            return
        for index, (key, doc, error) in enumerate(_documents(stream, fmt, require_abstract, max_record_bytes)):
            if doc is None and error is None:  # a JSON line that only names a PMID
                yield Item(index, key, {"pmid": key}, None)
                continue
            payload = {"doc": doc.to_payload()} if doc is not None and error is None else {}
            yield Item(index, short_key(key), payload, error)


def _documents(stream: IO[bytes], fmt: str, require_abstract: bool, max_record_bytes: int) -> Iterator[Parsed]:
    if fmt == "pubmed-xml":
        from workers.literature.parsers import pubmed_xml

        return pubmed_xml.records(chunks(stream), require_abstract=require_abstract, max_record_bytes=max_record_bytes)
    if fmt == "medline":
        from workers.literature.parsers import medline

        return medline.records(stream, require_abstract=require_abstract, max_record_bytes=max_record_bytes)
    if fmt in ("bioc-xml", "bioc-json"):
        from workers.literature.parsers import bioc

        read = bioc.xml_records_of if fmt == "bioc-xml" else bioc.json_records_of
        return read(chunks(stream), max_record_bytes=max_record_bytes)
    from workers.literature.parsers import plain

    if fmt == "jsonl":
        return plain.jsonl_records(stream, max_record_bytes=max_record_bytes)
    return plain.text_records(stream, max_record_bytes=max_record_bytes)
