"""What every literature reader yields, and the checks every parsed document goes through."""

from __future__ import annotations

from typing import Any

from core.enums import ItemErrorCode
from workers.literature.documents import Document

# (key, document, error): the document is None exactly when error is set.
# (key, document, error). A JSONL line that only names a PMID is (pmid, None, None): the worker fetches it.
Parsed = tuple[str | None, Document | None, tuple[str, str] | None]


def fail(code: ItemErrorCode, message: str, key: str | None = None) -> Parsed:
    return key, None, (code.value, message)


def too_long(max_record_bytes: int, key: str | None = None) -> Parsed:
    return fail(ItemErrorCode.RECORD_TOO_LONG, f"record is larger than {max_record_bytes} bytes", key)


def not_utf8(exc: UnicodeDecodeError, key: str | None = None) -> Parsed:
    """Names the offending byte, never echoes the record."""
    bad = exc.object[exc.start : exc.start + 1]
    byte = f"0x{bad[0]:02x}" if isinstance(bad, bytes) and bad else "?"
    return fail(ItemErrorCode.ENCODING_ERROR, f"record is not valid {exc.encoding} (byte {byte} at {exc.start})", key)


def json_key(value: Any) -> str | None:
    """A string or integer id, as text; anything else (objects, booleans, null) is no id."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip() or None


def text_problem(*values: str) -> str | None:
    """For text that did not come from strict decoding (JSON strings): NULs and lone surrogates (\\udcxx)."""
    for value in values:
        if "\x00" in value:
            return "text contains NUL characters"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "text is not valid Unicode (lone surrogate escapes)"
    return None


def checked(doc: Document, key: str | None, *, pubmed: bool, require_abstract: bool) -> Parsed:
    """EMPTY_TEXT rules: no text at all is always an error; a PubMed-sourced record (PubMed XML, MEDLINE,
    Entrez) without an abstract is one unless the job keeps title-only records."""
    if not any(p.text.strip() for p in doc.passages):
        return fail(ItemErrorCode.EMPTY_TEXT, "record has no title and no text", key)
    if pubmed and require_abstract and not any(p.kind == "abstract" and p.text.strip() for p in doc.passages):
        return fail(
            ItemErrorCode.EMPTY_TEXT, "record has no abstract (title only; require_abstract=false keeps it)", key
        )
    return key, doc, None
