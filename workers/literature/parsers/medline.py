"""MEDLINE/PubMed text format (PubMed's "PubMed" export, .nbib): "TAG - value" lines, 6-space continuations.

Records are cut from the byte stream here (a blank line, or a new "PMID-" line) so that each is decoded and
bounded on its own; Biopython's Medline parser then reads one record's lines (tags, continuation joining).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from core.enums import ItemErrorCode
from workers.literature.documents import from_title_abstract
from workers.literature.parsers._common import Parsed, checked, fail, not_utf8, too_long
from workers.textstream import bounded_lines

_PMID_LINE = re.compile(rb"PMID- *(\d{1,12})")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def records(stream: IO[bytes], *, require_abstract: bool, max_record_bytes: int) -> Iterator[Parsed]:
    buf: list[bytes] = []
    size = 0
    overlong = False
    key: str | None = None
    for line in bounded_lines(stream, max_record_bytes):
        # Biopython keeps a 6-space line as a blank continuation inside the record (its issue #4557).
        blank = line is not None and not line.strip() and not line.startswith(b"      ")
        starts = line is not None and line.startswith(b"PMID-")
        if (blank or starts) and (buf or overlong):
            yield too_long(max_record_bytes, key) if overlong else _record(buf, key, require_abstract)
            buf, size, overlong, key = [], 0, False, None
        if blank:
            continue
        if line is None or size + len(line) > max_record_bytes:
            overlong, buf = True, []
            continue
        if starts:
            found = _PMID_LINE.match(line)
            key = found.group(1).decode() if found else None
        if not overlong:
            buf.append(line)
            size += len(line)
    if buf or overlong:
        yield too_long(max_record_bytes, key) if overlong else _record(buf, key, require_abstract)


def _record(buf: list[bytes], key: str | None, require_abstract: bool) -> Parsed:
    from Bio import Medline

    try:
        text = b"".join(buf).decode("utf-8")
    except UnicodeDecodeError as exc:
        return not_utf8(exc, key)
    if "\x00" in text:
        return fail(ItemErrorCode.ENCODING_ERROR, "record contains NUL bytes", key)
    # Biopython takes any list of lines; it ends a record at an exact "\n" line, which buf never contains.
    try:
        rec: dict[str, Any] = next(Medline.parse(text.splitlines(keepends=True)), {})
    except (KeyError, IndexError):  # a continuation line before any tag
        return fail(ItemErrorCode.PARSE_ERROR, "MEDLINE record starts with a continuation line", key)
    pmid = _field(rec, "PMID")
    if not pmid.isdigit():
        return fail(ItemErrorCode.PARSE_ERROR, "MEDLINE record has no numeric PMID line", key)
    title = _field(rec, "TI") or _field(rec, "BTI")
    abstract = _field(rec, "AB")
    meta: dict[str, Any] = {}
    journal = _field(rec, "JT") or _field(rec, "TA")
    if journal:
        meta["journal"] = journal
    year = _YEAR.search(_field(rec, "DP"))
    if year:
        meta["year"] = int(year.group(1))
    # MEDLINE text carries MeSH names, not descriptor UIs: "*Asthma/drug therapy" -> "Asthma".
    terms = [t.split("/", 1)[0].lstrip("*").strip() for t in rec.get("MH", [])]
    if terms:
        meta["mesh_terms"] = [t for t in terms if t]
    doc = from_title_abstract(pmid, title, abstract, "medline", **meta)
    return checked(doc, pmid, pubmed=True, require_abstract=require_abstract)


def _field(rec: dict[str, Any], tag: str) -> str:
    value = rec.get(tag, "")
    if isinstance(value, list):
        value = " ".join(value)
    return " ".join(str(value).split())
