"""PubMed XML (baseline/update files, saved searches, efetch responses): one Document per article.

The byte stream is split into <PubmedArticle>/<PubmedBookArticle> records before anything is parsed, and each
record is parsed on its own: a truncated or malformed record becomes that record's CORRUPT_XML, and memory
holds one record at a time however large the file. Entrez responses go through the same function.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from core.enums import ItemErrorCode
from workers.literature.documents import from_title_abstract
from workers.literature.parsers._common import Parsed, checked, fail, not_utf8, too_long
from workers.literature.parsers._stream import RawRecord, take_prolog, xml_records
from workers.literature.safexml import XmlRejected, parse_record

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")
ROOTS = frozenset({"PubmedArticleSet", *RECORD_TAGS})
# The record's own PMID comes first (CommentsCorrections and references come later): a key for broken records.
_PMID = re.compile(rb"<PMID[^>]*>\s*(\d{1,12})\s*</PMID>")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def records(
    blocks: Iterable[bytes], *, require_abstract: bool, max_record_bytes: int, source: str = "pubmed-xml"
) -> Iterator[Parsed]:
    """Articles in input order. An unsafe or malformed prolog yields one UNSAFE_XML/CORRUPT_XML record and
    nothing else: no record of a hostile file is read."""
    try:
        prolog, data = take_prolog(blocks)
    except XmlRejected as exc:
        yield None, None, exc.error
        return
    if prolog.root not in ROOTS:
        yield fail(ItemErrorCode.CORRUPT_XML, f"root element <{prolog.root[:80]}> is not a PubmedArticleSet")
        return
    for raw in xml_records(data, RECORD_TAGS, max_record_bytes):
        yield _record(raw, prolog.encoding, require_abstract, max_record_bytes, source)


def _record(raw: RawRecord, encoding: str, require_abstract: bool, max_record_bytes: int, source: str) -> Parsed:
    found = _PMID.search(raw.data)
    key = found.group(1).decode() if found else None
    if raw.status == "too_long":
        return too_long(max_record_bytes, key)
    if raw.status == "truncated":
        tag = "PubmedBookArticle" if raw.data.startswith(b"<PubmedBook") else "PubmedArticle"
        message = f"record is truncated: no </{tag}> before the next record or the end of the input"
        return fail(ItemErrorCode.CORRUPT_XML, message, key)
    try:
        elem = parse_record(raw.data, encoding)
    except UnicodeDecodeError as exc:
        return not_utf8(exc, key)
    except XmlRejected as exc:
        return key, None, exc.error
    return article(elem, key, require_abstract=require_abstract, source=source)


def article(elem: Element, key: str | None, *, require_abstract: bool, source: str) -> Parsed:
    """A parsed <PubmedArticle> or <PubmedBookArticle> as a Document (PubTator layout: title, then abstract)."""
    book = elem.tag == "PubmedBookArticle"
    base = elem.find("BookDocument" if book else "MedlineCitation")
    if base is None:
        return fail(ItemErrorCode.PARSE_ERROR, f"<{elem.tag}> has no {'BookDocument' if book else 'MedlineCitation'}")
    pmid = (base.findtext("PMID") or "").strip()
    if not pmid.isdigit():
        return fail(ItemErrorCode.PARSE_ERROR, "record has no numeric PMID", key)
    art = base if book else base.find("Article")
    if art is None:
        return fail(ItemErrorCode.PARSE_ERROR, "record has no <Article>", pmid)
    title_el = art.find("ArticleTitle")
    if title_el is None and book:
        title_el = art.find("Book/BookTitle")
    title = text_of(title_el)
    abstract = " ".join(_sections(art.find("Abstract")))
    meta = _book_meta(art) if book else _article_meta(base, art)
    doc = from_title_abstract(pmid, title, abstract, source, **meta)
    return checked(doc, pmid, pubmed=True, require_abstract=require_abstract)


def text_of(el: Element | None) -> str:
    """Element text with inline markup (<i>, <sup>, <sub>, MathML) kept as text; whitespace runs collapsed,
    as PubMed displays it (pretty-printed files indent inside AbstractText)."""
    if el is None:
        return ""
    return " ".join("".join(el.itertext()).split())


def _sections(abstract: Element | None) -> Iterator[str]:
    if abstract is None:
        return
    for part in abstract.iterfind("AbstractText"):
        body = text_of(part)
        if body:
            label = (part.get("Label") or "").strip()
            yield f"{label}: {body}" if label else body


def _article_meta(citation: Element, art: Element) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    journal = art.findtext("Journal/Title") or art.findtext("Journal/ISOAbbreviation")
    if journal is None:
        journal = citation.findtext("MedlineJournalInfo/MedlineTA")
    if journal:
        meta["journal"] = " ".join(journal.split())
    pub_date = art.find("Journal/JournalIssue/PubDate")
    year = _year(pub_date.findtext("Year") or pub_date.findtext("MedlineDate")) if pub_date is not None else None
    if year is None:
        year = _year(art.findtext("ArticleDate/Year"))
    if year is not None:
        meta["year"] = year
    mesh = [d.get("UI") for d in citation.iterfind("MeshHeadingList/MeshHeading/DescriptorName")]
    if any(mesh):
        meta["mesh"] = [ui for ui in mesh if ui]
    for loc in art.iterfind("ELocationID"):
        if loc.get("EIdType") == "doi" and loc.text:
            meta["doi"] = loc.text.strip()
            break
    return meta


def _book_meta(doc: Element) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    publisher = doc.findtext("Book/Publisher/PublisherName")
    if publisher:
        meta["publisher"] = " ".join(publisher.split())
    year = _year(doc.findtext("Book/PubDate/Year"))
    if year is not None:
        meta["year"] = year
    return meta


def _year(value: str | None) -> int | None:
    found = _YEAR.search(value or "")
    return int(found.group(1)) if found else None
