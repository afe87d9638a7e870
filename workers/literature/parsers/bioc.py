"""BioC XML and BioC JSON collections: one Document per <document>, passages at their own offsets.

BioC offsets are already document offsets (PubTator layout for PubMed abstracts), so they are kept as given
rather than recomputed: annotations exported against the same collection line up. Passages must come in
offset order without overlapping; a document whose passages do not is a PARSE_ERROR, not silently reordered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from core.enums import ItemErrorCode
from workers.literature.documents import Document, Passage
from workers.literature.parsers._common import Parsed, checked, fail, json_key, not_utf8, text_problem, too_long
from workers.literature.parsers._stream import RawRecord, json_array_items, take_prolog, xml_records
from workers.literature.safexml import XmlRejected, parse_record

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

# (kind, offset, text) before validation; offset is None when missing or not an integer.
_RawPassage = tuple[str, int | None, str]


def xml_records_of(blocks: Iterable[bytes], *, max_record_bytes: int) -> Iterator[Parsed]:
    try:
        prolog, data = take_prolog(blocks)
    except XmlRejected as exc:
        yield None, None, exc.error
        return
    if prolog.root != "collection":
        yield fail(ItemErrorCode.CORRUPT_XML, f"root element <{prolog.root[:80]}> is not a BioC <collection>")
        return
    for index, raw in enumerate(xml_records(data, ("document",), max_record_bytes)):
        yield _xml_record(raw, index, prolog.encoding, max_record_bytes)


def _xml_record(raw: RawRecord, index: int, encoding: str, max_record_bytes: int) -> Parsed:
    if raw.status == "too_long":
        return too_long(max_record_bytes)
    if raw.status == "truncated":
        return fail(ItemErrorCode.CORRUPT_XML, "document is truncated: no </document> before the next one or the end")
    try:
        elem = parse_record(raw.data, encoding)
    except UnicodeDecodeError as exc:
        return not_utf8(exc)
    except XmlRejected as exc:
        return None, None, exc.error
    key = (elem.findtext("id") or "").strip() or None
    passages: list[_RawPassage] = []
    for p in elem.iterfind("passage"):
        kind = _xml_infon(p, "type") or "text"
        text = p.findtext("text")
        if text is not None:
            passages.append((kind, _int(p.findtext("offset")), text))
        else:  # sentence-level BioC: the passage text is carried by its sentences
            passages.extend(
                (kind, _int(s.findtext("offset")), s.findtext("text") or "") for s in p.iterfind("sentence")
            )
    infons = {i.get("key") or "": i.text or "" for i in elem.iterfind("infon")}
    return _document(key, index, passages, infons, "bioc-xml")


def _xml_infon(elem: Element, name: str) -> str | None:
    for infon in elem.iterfind("infon"):
        if infon.get("key") == name:
            return (infon.text or "").strip() or None
    return None


def json_records_of(blocks: Iterable[bytes], *, max_record_bytes: int) -> Iterator[Parsed]:
    for index, raw in enumerate(json_array_items(blocks, b"documents", max_record_bytes)):
        yield _json_record(raw, index, max_record_bytes)


def _json_record(raw: RawRecord, index: int, max_record_bytes: int) -> Parsed:
    if raw.status == "too_long":
        return too_long(max_record_bytes)
    if raw.status == "truncated":
        return fail(ItemErrorCode.PARSE_ERROR, "document is truncated: the JSON input ends inside it")
    try:
        value = json.loads(raw.data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return not_utf8(exc)
    except (ValueError, RecursionError) as exc:
        return fail(ItemErrorCode.PARSE_ERROR, f"document is not valid JSON ({str(exc)[:120]})")
    if not isinstance(value, dict):
        return fail(ItemErrorCode.PARSE_ERROR, "a BioC document must be a JSON object")
    key = json_key(value.get("id"))
    passages: list[_RawPassage] = []
    for p in value.get("passages") or []:
        if not isinstance(p, dict):
            return fail(ItemErrorCode.PARSE_ERROR, "a BioC passage must be a JSON object", key)
        p_infons = p.get("infons")
        kind = str(p_infons.get("type") or "text") if isinstance(p_infons, dict) else "text"
        text = p.get("text")
        if isinstance(text, str):
            passages.append((kind, _int(p.get("offset")), text))
        elif isinstance(p.get("sentences"), list):
            passages.extend(
                (kind, _int(s.get("offset")), str(s.get("text") or "")) for s in p["sentences"] if isinstance(s, dict)
            )
    infons = value.get("infons")
    flat = {str(k): str(v) for k, v in infons.items()} if isinstance(infons, dict) else {}
    return _document(key, index, passages, flat, "bioc-json")


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _document(key: str | None, index: int, raw: list[_RawPassage], infons: dict[str, str], source: str) -> Parsed:
    passages: list[Passage] = []
    end = 0
    for kind, offset, text in raw:
        if offset is None or offset < 0:
            return fail(ItemErrorCode.PARSE_ERROR, f"a {kind!r} passage has no valid offset", key)
        if not text:
            continue
        if offset < end:
            message = f"passage at offset {offset} overlaps or precedes the previous one (which ends at {end})"
            return fail(ItemErrorCode.PARSE_ERROR, message, key)
        problem = text_problem(text)
        if problem:
            return fail(ItemErrorCode.ENCODING_ERROR, problem, key)
        passages.append(Passage(kind, offset, text))
        end = offset + len(text)
    meta: dict[str, Any] = {"infons": infons} if infons else {}
    doc = Document(key if key is not None else str(index), passages, source, meta)
    return checked(doc, key, pubmed=False, require_abstract=False)
