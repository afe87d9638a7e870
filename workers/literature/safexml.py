"""Hardened XML for untrusted uploads and NCBI responses: nothing is ever fetched, nothing is ever expanded.

Two layers. The prolog (everything before the root element) is checked by a scanner of our own before any XML
parser sees the input: a DOCTYPE internal subset (where entity bombs and external entities are declared) is
rejected on sight, without reading it to its end, and an external DTD is accepted only when it names NLM's
PubMed/MEDLINE DTDs or BioC.dtd, which are never loaded (the parsers only need the element tree). Records are
then parsed by defusedxml with DTDs, entity declarations and external references forbidden, so a record that
smuggles its own DOCTYPE is refused as well. Expat (under ElementTree) has no network code of its own; the tests
prove that a DTD or entity URL on a local socket receives no connection.

defusedxml is imported only where a record is parsed: the API imports the prolog scanner to sniff uploads.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.enums import ItemErrorCode

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

MAX_PROLOG_BYTES = 1 << 20  # a prolog longer than this is not a PubMed or BioC file
_UTF8_BOM = codecs.BOM_UTF8

_QUOTED = r"(?:\"[^\"]*\"|'[^']*')"
_XML_DECL = re.compile(r"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(r"encoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]*)[\"']")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_PI = re.compile(r"<\?[A-Za-z_][^?]*(?:\?(?!>)[^?]*)*\?>")
_SPACE = re.compile(r"\s+")
_DOCTYPE = re.compile(
    rf"<!DOCTYPE\s+([A-Za-z_][\w.:-]*)(?:\s+(?:SYSTEM\s+({_QUOTED})|PUBLIC\s+({_QUOTED})\s+({_QUOTED})))?\s*([\[>])"
)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)[\s/>]")
# The DTDs NLM publishes for PubMed/MEDLINE XML (pubmed_250101.dtd, nlmmedlinecitationset_190101.dtd, ...),
# as a bare name or on NLM's own hosts, and BioC's DTD as BioC files reference it.
_NLM_DTD = re.compile(
    r"(?:https?://(?:dtd\.nlm\.nih\.gov|www\.ncbi\.nlm\.nih\.gov|eutils\.ncbi\.nlm\.nih\.gov)/(?:[\w.-]+/)*)?"
    r"(?:pubmed|nlmmedlinecitationset|nlmmedlinecitation|nlmcommon)[\w.-]*\.dtd",
    re.I,
)
_BIOC_DTD = re.compile(r"(?:https?://(?:www\.)?ncbi\.nlm\.nih\.gov/(?:[\w.-]+/)*)?BioC\.dtd", re.I)


class XmlRejected(Exception):
    """XML we refuse to read; `code` is ItemErrorCode UNSAFE_XML (hostile) or CORRUPT_XML (malformed)."""

    def __init__(self, code: ItemErrorCode, reason: str) -> None:
        super().__init__(f"{code.value}: {reason}")
        self.code = code.value
        self.reason = reason

    @property
    def error(self) -> tuple[str, str]:
        return self.code, self.reason


@dataclass(frozen=True, slots=True)
class Prolog:
    root: str  # the root element's name
    encoding: str  # Python codec name the records are decoded with
    doctype_system_id: str | None
    root_at: int  # byte offset of the root element's "<"


def _unsafe(reason: str) -> XmlRejected:
    return XmlRejected(ItemErrorCode.UNSAFE_XML, reason)


def _corrupt(reason: str) -> XmlRejected:
    return XmlRejected(ItemErrorCode.CORRUPT_XML, reason)


def allowed_dtd(system_id: str) -> bool:
    return bool(_NLM_DTD.fullmatch(system_id) or _BIOC_DTD.fullmatch(system_id))


def scan_prolog(head: bytes, *, final: bool = False) -> Prolog | None:
    """Check the prolog at the start of `head`. None: `head` ends before the root element and more input may
    follow (never when `final`). Raises XmlRejected for an unsafe DOCTYPE or a malformed prolog."""
    # Latin-1 maps bytes to characters one to one, so offsets stay byte offsets whatever the real encoding.
    text = head.decode("latin-1")
    pos = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    encoding = "utf-8"
    system_id: str | None = None
    seen_doctype = False
    if text.startswith("<?xml", pos):
        m = _XML_DECL.match(text, pos)
        if m is None:
            return _more(final, "malformed XML declaration", "?>" in text[pos:])
        enc = _ENCODING.search(m.group(0))
        if enc:
            encoding = _codec(enc.group(1))
        pos = m.end()
    while True:
        m = _SPACE.match(text, pos)
        if m:
            pos = m.end()
        rest = len(text) - pos
        if text.startswith("<!--", pos):
            m = _COMMENT.match(text, pos)
            if m is None:
                return _more(final, "unterminated comment", False)
            pos = m.end()
        elif text.startswith("<?", pos):
            m = _PI.match(text, pos)
            if m is None:
                return _more(final, "malformed processing instruction", "?>" in text[pos:])
            pos = m.end()
        elif text.startswith("<!DOCTYPE", pos):
            if seen_doctype:
                raise _corrupt("more than one DOCTYPE")
            seen_doctype = True
            found = _doctype(text, pos)
            if found is None:
                return _more(final, "unterminated DOCTYPE", False)
            pos, system_id = found
        elif (m := _ROOT.match(text, pos)) is not None:
            return Prolog(m.group(1), encoding, system_id, pos)
        elif rest < 256 and re.fullmatch(r"<[!\w.:-]*", text[pos:]):
            return _more(final, "the input ends before the root element", False)  # may be cut mid-tag
        elif rest == 0:
            return _more(final, "the input is empty" if pos == 0 else "no root element", False)
        else:
            raise _corrupt(f"expected the root element at byte {pos}, found {text[pos : pos + 20]!r}")


def _more(final: bool, reason: str, malformed: bool) -> Prolog | None:
    """`head` stopped inside the prolog: more input may complete it, unless there is none or it cannot."""
    if final or malformed:
        raise _corrupt(reason)
    return None


def _doctype(text: str, pos: int) -> tuple[int, str | None] | None:
    m = _DOCTYPE.match(text, pos)
    if m is None:
        # Rejected on the first "[" already: a billion-laughs subset is never read to its end.
        bracket = text.find("[", pos)
        close = text.find(">", pos)
        if bracket != -1 and (close == -1 or bracket < close):
            raise _unsafe("the DOCTYPE has an internal subset (entity declarations are not accepted)")
        if close == -1:
            return None
        raise _unsafe(f"unrecognised DOCTYPE declaration {text[pos : min(close + 1, pos + 200)]!r}")
    if m.group(5) == "[":
        raise _unsafe("the DOCTYPE has an internal subset (entity declarations are not accepted)")
    literal = m.group(2) or m.group(4)
    system_id = literal[1:-1].strip() if literal else None
    if system_id is not None and not allowed_dtd(system_id):
        raise _unsafe(f"external DTD {system_id[:200]!r} is not an NLM PubMed/MEDLINE or BioC DTD")
    return m.end(), system_id


def check_prolog(head: bytes) -> Prolog:
    """scan_prolog for input known to be complete, or at least MAX_PROLOG_BYTES long."""
    prolog = scan_prolog(head, final=True)
    assert prolog is not None  # final=True raises instead of asking for more
    return prolog


def _codec(name: str) -> str:
    """The declared encoding, if records can be split on bytes with it (ASCII-compatible, one byte for '<')."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise _corrupt(f"unknown encoding {name!r} in the XML declaration") from None
    if "<tag>".encode(info.name, "ignore") != b"<tag>" or info.name.startswith(("utf-16", "utf-32")):
        raise _corrupt(f"encoding {name!r} is not supported; use UTF-8")
    return info.name


def parse_record(data: bytes, encoding: str = "utf-8") -> Element:
    """Parse one record (a fragment without prolog). UnicodeDecodeError propagates: the caller reports the
    record as ENCODING_ERROR. Raises XmlRejected for a DOCTYPE/entity inside the record or malformed XML."""
    text = data.decode(encoding)
    return _parse(text, forbid_dtd=True)


def parse_document(data: bytes) -> Element:
    """Parse a whole small document: its prolog is checked first, its DTD (if allowed) is never loaded."""
    prolog = check_prolog(data[:MAX_PROLOG_BYTES])
    text = data.decode(prolog.encoding).lstrip("\ufeff")
    # The declaration names the encoding of bytes we have already decoded; expat would apply it again.
    if text.startswith("<?xml"):
        text = _XML_DECL.sub("", text, count=1)
    return _parse(text, forbid_dtd=False)


def _parse(text: str, *, forbid_dtd: bool) -> Element:
    from xml.etree.ElementTree import ParseError

    import defusedxml
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(text, forbid_dtd=forbid_dtd, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise _unsafe("a DOCTYPE inside a record is not accepted") from None
    except defusedxml.EntitiesForbidden:
        raise _unsafe("entity declarations are not accepted") from None
    except defusedxml.ExternalReferenceForbidden:
        raise _unsafe("external references are not accepted") from None
    except defusedxml.DefusedXmlException as exc:
        raise _unsafe(f"rejected by the XML hardening ({type(exc).__name__})") from None
    except ParseError as exc:
        raise _corrupt(f"malformed XML: {exc}") from None
