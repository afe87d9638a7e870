"""Hostile XML: entity bombs, external entities and foreign DTDs are refused before any parser expands or fetches
them. "Nothing fetched" is observed, not assumed: the URLs point at a local listener that counts connections,
and an audit hook records every connect/getaddrinfo the process attempts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.enums import ItemErrorCode
from workers.literature.parsers import iter_items
from workers.literature.safexml import XmlRejected, _parse, check_prolog, parse_document, parse_record, scan_prolog
from workers.plugin import Item

from .conftest import SocketSpy

UNSAFE = ItemErrorCode.UNSAFE_XML.value
CORRUPT = ItemErrorCode.CORRUPT_XML.value
PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
RECORD = (
    "<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>T {x}</ArticleTitle><Abstract>"
    "<AbstractText>Aspirin {x} reduced pain.</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
)


def _message(item: Item) -> str:
    assert item.error is not None
    return item.error[1]


def billion_laughs(levels: int = 10) -> str:
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, levels)
    ]
    return f"<!DOCTYPE PubmedArticleSet [{''.join(decls)}]>"


def write(tmp_path: Path, text: str, name: str = "in.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def items(path: Path) -> list:
    return list(iter_items(path, "pubmed-xml"))


def test_the_spy_sees_connections(spy: SocketSpy, outbound: list) -> None:
    """The instruments work: a real connection is counted by both (so zero below means zero)."""
    import urllib.error
    import urllib.request

    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(spy.url + "/probe", timeout=2)
    deadline = time.monotonic() + 2
    while spy.connections == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spy.connections == 1
    assert any(event == "socket.connect" for event, _ in outbound)


def test_billion_laughs_is_rejected_fast(tmp_path: Path, outbound: list) -> None:
    path = write(
        tmp_path,
        f'<?xml version="1.0"?>{billion_laughs()}<PubmedArticleSet>{RECORD.format(x="&lol9;")}</PubmedArticleSet>',
    )
    started = time.perf_counter()
    result = items(path)
    assert time.perf_counter() - started < 1.0
    assert [(it.index, it.error[0]) for it in result] == [(0, UNSAFE)]
    assert "internal subset" in _message(result[0])
    assert outbound == []


def test_huge_internal_subset_is_not_read_to_its_end(tmp_path: Path) -> None:
    """Rejected on the "[": 50 MB of declarations after it are never scanned."""
    path = tmp_path / "big.xml"
    with path.open("w") as fh:
        fh.write("<!DOCTYPE PubmedArticleSet [")
        block = '<!ENTITY a "' + "x" * 1000 + '">' * 1
        for _ in range(50_000):
            fh.write(block)
        fh.write("]><PubmedArticleSet/>")
    started = time.perf_counter()
    result = items(path)
    assert time.perf_counter() - started < 1.0
    assert [it.error[0] for it in result] == [UNSAFE]


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE PubmedArticleSet [<!ENTITY xxe SYSTEM "{url}/secret">]>',
        '<!DOCTYPE PubmedArticleSet [<!ENTITY % remote SYSTEM "{url}/evil.dtd"> %remote;]>',
        '<!DOCTYPE PubmedArticleSet SYSTEM "{url}/evil.dtd">',
        '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle//EN" "{url}/pubmed_250101.dtd">',
        '<!DOCTYPE PubmedArticleSet SYSTEM "file:///etc/passwd">',
    ],
)
def test_external_entities_and_foreign_dtds(tmp_path: Path, spy: SocketSpy, outbound: list, doctype: str) -> None:
    body = RECORD.format(x="&xxe;" if "xxe" in doctype else "")
    path = write(
        tmp_path, f'<?xml version="1.0"?>\n{doctype.format(url=spy.url)}\n<PubmedArticleSet>{body}</PubmedArticleSet>'
    )
    result = items(path)
    assert [it.error[0] for it in result] == [UNSAFE]
    time.sleep(0.1)  # a connection attempt, had there been one, has reached the listener by now
    assert spy.connections == 0
    assert outbound == []


def test_parser_itself_never_fetches(spy: SocketSpy, outbound: list) -> None:
    """Second layer, below the prolog check: expat under defusedxml neither loads an external DTD nor
    resolves an external entity, even when asked to parse such a document directly."""
    external_dtd = f'<!DOCTYPE a SYSTEM "{spy.url}/a.dtd"><a>text</a>'
    assert _parse(external_dtd, forbid_dtd=False).text == "text"
    with pytest.raises(XmlRejected) as exc:
        _parse(f'<!DOCTYPE a [<!ENTITY e SYSTEM "{spy.url}/e">]><a>&e;</a>', forbid_dtd=False)
    assert exc.value.code == UNSAFE
    with pytest.raises(XmlRejected) as exc:
        _parse(billion_laughs() + "<PubmedArticleSet>&lol9;</PubmedArticleSet>", forbid_dtd=False)
    assert exc.value.code == UNSAFE
    xinclude = f'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{spy.url}/x"/></a>'
    assert len(_parse(xinclude, forbid_dtd=True)) == 1  # an element like any other, not an instruction
    time.sleep(0.1)
    assert spy.connections == 0
    assert outbound == []


def test_a_record_cannot_smuggle_a_doctype() -> None:
    with pytest.raises(XmlRejected) as exc:
        parse_record(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    assert exc.value.code == UNSAFE
    with pytest.raises(XmlRejected) as exc:  # an entity nobody declared is an error, not an empty string
        parse_record(b"<x>&undeclared;</x>")
    assert exc.value.code == CORRUPT


def test_real_file_with_nlm_dtd_parses_offline(pubmed_file: Path, outbound: list) -> None:
    data = pubmed_file.read_bytes()
    prolog = check_prolog(data)
    assert prolog.root == "PubmedArticleSet"
    assert prolog.doctype_system_id == "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd"
    assert parse_document(data).findtext("PubmedArticle/MedlineCitation/PMID") == "29768149"
    [item] = items(pubmed_file)
    assert item.error is None
    assert outbound == []  # the https DTD was neither loaded nor even resolved


@pytest.mark.parametrize(
    "system_id",
    [
        "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd",
        "http://www.ncbi.nlm.nih.gov/entrez/query/DTD/pubmed_180101.dtd",
        "https://dtd.nlm.nih.gov/ncbi/pubmed/out/nlmmedlinecitationset_250101.dtd",
        "pubmed_250101.dtd",
        "BioC.dtd",
    ],
)
def test_allowed_dtds(system_id: str) -> None:
    head = f'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet SYSTEM "{system_id}"><PubmedArticleSet>'
    prolog = scan_prolog(head.encode())
    assert prolog is not None and prolog.doctype_system_id == system_id


@pytest.mark.parametrize(
    "system_id",
    [
        "https://dtd.nlm.nih.gov.evil.example/pubmed_190101.dtd",
        "https://evil.example/dtd.nlm.nih.gov/pubmed_190101.dtd",
        "http://www.ncbi.nlm.nih.gov/pubmed_190101.dtd?x=1",
        "https://evil.example/BioC.dtd",
        "ftp://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd",
    ],
)
def test_lookalike_dtds_are_refused(system_id: str) -> None:
    with pytest.raises(XmlRejected) as exc:
        scan_prolog(f'<!DOCTYPE PubmedArticleSet SYSTEM "{system_id}"><PubmedArticleSet>'.encode())
    assert exc.value.code == UNSAFE


def test_prolog_scanner_needs_more_or_judges() -> None:
    assert scan_prolog(b'<?xml version="1.0"?>\n<!-- a comment -->\n<!DOC') is None  # cut short: read on
    assert scan_prolog(b"<PubmedArtic") is None
    with pytest.raises(XmlRejected):
        scan_prolog(b"<PubmedArtic", final=True)
    prolog = scan_prolog(b'\xef\xbb\xbf<?xml version="1.0" encoding="ISO-8859-1"?><?pi x?><PubmedArticleSet>')
    assert prolog is not None and prolog.encoding == "iso8859-1" and prolog.root == "PubmedArticleSet"
    for bad in (b"just text", b'<?xml version="1.0" encoding="UTF-16"?><a/>', b"<!DOCTYPE a><!DOCTYPE b><a/>"):
        with pytest.raises(XmlRejected) as exc:
            scan_prolog(bad, final=True)
        assert exc.value.code == CORRUPT
