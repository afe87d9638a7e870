"""Plain text and JSON lines.

Plain text: documents are separated by one or more blank lines. In a block of several lines the first line is
the title and the rest (line breaks kept) the abstract, at len(title) + 1 as in PubTator; a one-line block is
the whole text. So a file with one abstract per line and no blank lines is one document: separate them by blank
lines, or send JSON lines. Line endings are normalised to "\\n"; offsets refer to the normalised text.

JSON lines: one object per line, with "text", or "title" and/or "abstract"; "id" (else "pmid") is the key. A line
that is not a usable object is that item's PARSE_ERROR; the other lines go on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from core.enums import ItemErrorCode
from workers.literature.documents import Document, Passage, from_title_abstract
from workers.literature.parsers._common import Parsed, checked, fail, json_key, not_utf8, text_problem, too_long
from workers.textstream import bounded_lines


def text_records(stream: IO[bytes], *, max_record_bytes: int) -> Iterator[Parsed]:
    block: list[bytes] = []
    size = 0
    overlong = False
    index = 0
    for line in bounded_lines(stream, max_record_bytes):
        if line is not None and not line.strip():
            if block or overlong:
                yield too_long(max_record_bytes) if overlong else _text_block(block, index)
                index += 1
            block, size, overlong = [], 0, False
        elif line is None or overlong or size + len(line) > max_record_bytes:
            block, overlong = [], True
        else:
            block.append(line)
            size += len(line)
    if block or overlong:
        yield too_long(max_record_bytes) if overlong else _text_block(block, index)


def _text_block(block: list[bytes], index: int) -> Parsed:
    try:
        rows = [line.decode("utf-8").rstrip() for line in block]
    except UnicodeDecodeError as exc:
        return not_utf8(exc)
    if any("\x00" in row for row in rows):
        return fail(ItemErrorCode.ENCODING_ERROR, "record contains NUL bytes")
    doc_id = str(index)
    if len(rows) == 1:
        doc = Document(doc_id, [Passage("text", 0, rows[0].strip())], "text")
    else:
        doc = from_title_abstract(doc_id, rows[0].strip(), "\n".join(rows[1:]).strip(), "text")
    return checked(doc, None, pubmed=False, require_abstract=False)


def jsonl_records(stream: IO[bytes], *, max_record_bytes: int) -> Iterator[Parsed]:
    index = 0
    for line in bounded_lines(stream, max_record_bytes):
        if line is None:
            yield too_long(max_record_bytes)
        elif not line.strip():
            continue  # blank lines are not records
        else:
            yield _json_line(line, index)
        index += 1


def _json_line(line: bytes, index: int) -> Parsed:
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return not_utf8(exc)
    except json.JSONDecodeError as exc:
        return fail(ItemErrorCode.PARSE_ERROR, f"line is not valid JSON ({exc.msg}, column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # an integer too long, nesting too deep
        return fail(ItemErrorCode.PARSE_ERROR, f"line is not usable JSON ({type(exc).__name__})")
    # Inline API items arrive as JSON lines too: a bare string is a PMID (digits) or a text document.
    if isinstance(value, str):
        value = {"pmid": value.strip()} if value.strip().isdigit() else {"text": value}
    if not isinstance(value, dict):
        return fail(ItemErrorCode.PARSE_ERROR, f"expected a JSON object per line, got {type(value).__name__}")
    pmid = json_key(value.get("pmid"))
    if pmid is not None and not any(name in value for name in ("text", "title", "abstract")):
        if not pmid.isdigit() or len(pmid) > 12 or int(pmid) == 0:
            return fail(ItemErrorCode.PARSE_ERROR, f"{pmid[:40]!r} is not a PMID (a positive integer)")
        return str(int(pmid)), None, None  # no text: fetched by the worker like a PMID list entry
    key = json_key(value.get("id", value.get("pmid")))
    fields: dict[str, str] = {}
    for name in ("text", "title", "abstract"):
        field = value.get(name)
        if field is None:
            continue
        if not isinstance(field, str):
            return fail(ItemErrorCode.PARSE_ERROR, f"{name!r} must be a string, got {type(field).__name__}", key)
        fields[name] = field.strip()
    problem = text_problem(*fields.values(), key or "")
    if problem:
        return fail(ItemErrorCode.ENCODING_ERROR, problem)
    doc_id = key if key is not None else str(index)
    meta: dict[str, Any] = {}
    if "title" in fields or "abstract" in fields:
        body = fields.get("abstract") or fields.get("text", "")
        doc = from_title_abstract(doc_id, fields.get("title", ""), body, "jsonl", **meta)
    else:
        doc = Document(doc_id, [Passage("text", 0, fields.get("text", ""))], "jsonl", meta)
    return checked(doc, key, pubmed=False, require_abstract=False)
