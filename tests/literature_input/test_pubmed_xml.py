"""PubMed XML: the real NEJM record, and written sets with broken records in the middle and at the end."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from core.enums import ItemErrorCode
from workers.literature.documents import Document
from workers.literature.parsers import iter_items, pubmed_xml
from workers.literature.parsers._stream import xml_records
from workers.plugin import Item

from .xmlbuild import PUBMED_PROLOG, article, article_set

CORRUPT = ItemErrorCode.CORRUPT_XML.value

LITHIUM = article(
    "31000001",
    "Lithium-induced nephrogenic diabetes insipidus in a patient with bipolar disorder.",
    [
        (
            "BACKGROUND",
            "Lithium remains a first-line mood stabilizer, but long-term use impairs renal concentrating ability.",
        ),
        ("CASE", "A 54-year-old woman treated with lithium for 20 years presented with polyuria (6 L/day) and thirst."),
        ("CONCLUSIONS", "Amiloride reduced urine output by 40% within two weeks."),
    ],
    year="2019",
    mesh=("D008094", "D018500"),
)
CISPLATIN = article(
    "31000003",
    "Cisplatin nephrotoxicity is attenuated by magnesium supplementation in rats.",
    [
        (
            None,
            "Male Wistar rats received cisplatin (5 mg/kg i.p.) with or without magnesium sulfate. "
            "Serum creatinine rose 3-fold.",
        )
    ],
)
HALOPERIDOL = article(
    "31000005",
    "Haloperidol-induced catalepsy in mice.",
    [(None, "Haloperidol (1 mg/kg) induced catalepsy that peaked at 60 min and was reversed by scopolamine.")],
)


def _message(item: Item) -> str:
    assert item.error is not None
    return item.error[1]


def _write(tmp_path: Path, text: str | bytes, name: str = "set.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _summary(items: list) -> list[tuple]:
    return [(it.index, it.key, it.error[0] if it.error else None) for it in items]


def test_real_record(pubmed_file: Path) -> None:
    [item] = list(iter_items(pubmed_file, "pubmed-xml"))
    assert (item.index, item.key, item.error) == (0, "29768149", None)
    doc = Document.from_payload(item.payload["doc"])
    title, abstract = doc.passages
    assert (title.kind, title.offset) == ("title", 0)
    assert title.text == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert abstract.kind == "abstract" and abstract.offset == len(title.text) + 1
    assert abstract.text.startswith(
        "BACKGROUND: In patients with mild asthma, as-needed use of an inhaled glucocorticoid"
    )
    assert " METHODS: We conducted a 52-week, double-blind trial" in abstract.text
    assert " RESULTS: A total of 3849 patients" in abstract.text and " CONCLUSIONS: In patients" in abstract.text
    assert "(200 \u03bcg of budesonide and 6 \u03bcg of formoterol)" in abstract.text  # &#956; decoded
    assert "\t" not in abstract.text and "  " not in abstract.text  # pretty-printing indentation collapsed
    assert doc.text[abstract.offset : abstract.offset + 11] == "BACKGROUND:"
    assert doc.source == "pubmed-xml"
    assert doc.meta["journal"] == "The New England journal of medicine" and doc.meta["year"] == 2018
    assert doc.meta["doi"] == "10.1056/NEJMoa1715274"
    assert doc.meta["mesh"][:2] == ["D000280", "D000293"] and "D013726" in doc.meta["mesh"]


def test_real_record_gzip(pubmed_file: Path, tmp_path: Path) -> None:
    gz = _write(tmp_path, gzip.compress(pubmed_file.read_bytes()), "pubmed.xml.gz")
    assert [it.payload for it in iter_items(gz, "pubmed-xml")] == [
        it.payload for it in iter_items(pubmed_file, "pubmed-xml")
    ]


def test_broken_records_in_the_middle_and_at_the_end(tmp_path: Path) -> None:
    truncated = article("31000002", "Truncated record.", [(None, "Cut here")]).split("</Abstract>")[0]
    malformed = article("31000004", "Malformed record.", [(None, "Bad nesting")]).replace("</ArticleTitle>", "</Title>")
    cut_at_end = article("31000006", "Cut at the end of the file.", [(None, "The file ends inside")])[:300]
    text = article_set(LITHIUM, truncated, CISPLATIN, malformed, HALOPERIDOL, cut_at_end, close=False)
    items = list(iter_items(_write(tmp_path, text), "pubmed-xml"))
    assert _summary(items) == [
        (0, "31000001", None),
        (1, "31000002", CORRUPT),
        (2, "31000003", None),
        (3, "31000004", CORRUPT),
        (4, "31000005", None),
        (5, "31000006", CORRUPT),
    ]
    assert "truncated" in _message(items[1]) and "truncated" in _message(items[5])
    assert "mismatched tag" in _message(items[3])
    assert all(it.payload == {} for it in items if it.error)
    # The record after the damaged one is whole.
    doc = Document.from_payload(items[2].payload["doc"])
    assert doc.passages[0].text == "Cisplatin nephrotoxicity is attenuated by magnesium supplementation in rats."
    assert doc.passages[1].text.endswith("Serum creatinine rose 3-fold.")
    lithium = Document.from_payload(items[0].payload["doc"])
    assert lithium.passages[1].text == (
        "BACKGROUND: Lithium remains a first-line mood stabilizer, but long-term use impairs renal concentrating "
        "ability. CASE: A 54-year-old woman treated with lithium for 20 years presented with polyuria (6 L/day) and "
        "thirst. CONCLUSIONS: Amiloride reduced urine output by 40% within two weeks."
    )
    assert lithium.meta == {"journal": "Journal of Testing", "year": 2019, "mesh": ["D008094", "D018500"]}


def _blocks(data: bytes, sizes: tuple[int, ...]) -> Iterator[bytes]:
    at = i = 0
    while at < len(data):
        size = sizes[i % len(sizes)]
        yield data[at : at + size]
        at += size
        i += 1


def _records(blocks, **kw) -> list[tuple]:
    out = []
    for key, doc, error in pubmed_xml.records(
        blocks, require_abstract=True, max_record_bytes=kw.get("limit", 8_000_000)
    ):
        out.append((key, doc.to_payload() if doc else None, error[0] if error else None))
    return out


def test_split_does_not_depend_on_block_boundaries() -> None:
    truncated = article("31000002", "Truncated record.", [(None, "Cut here")])[:-40]
    data = article_set(LITHIUM, truncated, CISPLATIN, HALOPERIDOL).encode()
    whole = _records([data])
    assert [r[2] for r in whole] == [None, CORRUPT, None, None]
    for sizes in ((1,), (7,), (3, 17, 5), (64,), (1000,)):
        assert _records(_blocks(data, sizes)) == whole, sizes


def test_record_too_long_is_skipped(tmp_path: Path) -> None:
    huge = article("31000002", "A very long record.", [(None, "word " * 2000)])
    data = article_set(LITHIUM, huge, CISPLATIN).encode()
    for sizes in ((len(data),), (13,), (200, 7)):
        got = _records(_blocks(data, sizes), limit=3000)
        assert [(k, e) for k, _, e in got] == [
            ("31000001", None),
            ("31000002", ItemErrorCode.RECORD_TOO_LONG.value),
            ("31000003", None),
        ], sizes


def test_encoding_per_record(tmp_path: Path) -> None:
    bad = article("31000002", "Caf\u00e9 au lait spots.", [(None, "Text.")]).encode("latin-1")
    data = (
        article_set(LITHIUM).encode().replace(b"</PubmedArticleSet>", bad + CISPLATIN.encode() + b"</PubmedArticleSet>")
    )
    items = list(iter_items(_write(tmp_path, data), "pubmed-xml"))
    assert _summary(items) == [
        (0, "31000001", None),
        (1, "31000002", ItemErrorCode.ENCODING_ERROR.value),
        (2, "31000003", None),
    ]
    assert "0xe9" in _message(items[1])
    # The same bytes are fine where the XML declaration says ISO-8859-1.
    latin = (b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<PubmedArticleSet>') + bad + b"</PubmedArticleSet>"
    [item] = list(iter_items(_write(tmp_path, latin, "latin.xml"), "pubmed-xml"))
    assert item.payload["doc"]["passages"][0]["text"] == "Caf\u00e9 au lait spots."


def test_require_abstract(tmp_path: Path) -> None:
    title_only = article("31000002", "Erratum: dosage of lithium.")
    nothing = article("31000007", "")
    path = _write(tmp_path, article_set(LITHIUM, title_only, nothing))
    strict = list(iter_items(path, "pubmed-xml"))
    assert _summary(strict) == [
        (0, "31000001", None),
        (1, "31000002", ItemErrorCode.EMPTY_TEXT.value),
        (2, "31000007", ItemErrorCode.EMPTY_TEXT.value),
    ]
    assert "require_abstract" in _message(strict[1])
    lenient = list(iter_items(path, "pubmed-xml", require_abstract=False))
    assert _summary(lenient)[1:] == [(1, "31000002", None), (2, "31000007", ItemErrorCode.EMPTY_TEXT.value)]
    assert lenient[1].payload["doc"]["passages"] == [
        {"kind": "title", "offset": 0, "text": "Erratum: dosage of lithium."}
    ]


def test_inline_markup_book_and_missing_pmid(tmp_path: Path) -> None:
    markup = article(
        "31000008",
        "Calcium and beta-blockers.",
        raw_abstract=(
            "<AbstractText>Serum Ca<sup>2+</sup> rose in <i>E. coli</i> sepsis &amp; shock;\n      &#946;-blockers "
            "(e.g. propranolol) were withheld.</AbstractText>"
        ),
    )
    book = (
        '<PubmedBookArticle><BookDocument><PMID Version="1">20301295</PMID><Book><BookTitle>GeneReviews</BookTitle>'
        "<PubDate><Year>1993</Year></PubDate></Book><ArticleTitle>Wilson Disease</ArticleTitle><Abstract>"
        '<AbstractText Label="CLINICAL CHARACTERISTICS">Wilson disease is a disorder of copper metabolism.'
        "</AbstractText></Abstract></BookDocument></PubmedBookArticle>"
    )
    no_pmid = LITHIUM.replace('<PMID Version="1">31000001</PMID>', "")
    items = list(iter_items(_write(tmp_path, article_set(markup, book, no_pmid)), "pubmed-xml"))
    assert _summary(items) == [(0, "31000008", None), (1, "20301295", None), (2, None, ItemErrorCode.PARSE_ERROR.value)]
    assert items[0].payload["doc"]["passages"][1]["text"] == (
        "Serum Ca2+ rose in E. coli sepsis & shock; \u03b2-blockers (e.g. propranolol) were withheld."
    )
    book_doc = items[1].payload["doc"]
    assert (
        book_doc["passages"][1]["text"]
        == "CLINICAL CHARACTERISTICS: Wilson disease is a disorder of copper metabolism."
    )
    assert book_doc["meta"]["year"] == 1993


def test_foreign_root_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path, '<?xml version="1.0"?><MedlineCitationSet>' + LITHIUM + "</MedlineCitationSet>")
    assert _summary(list(iter_items(path, "pubmed-xml"))) == [(0, None, CORRUPT)]
    path = _write(tmp_path, PUBMED_PROLOG, "empty.xml")
    assert _summary(list(iter_items(path, "pubmed-xml"))) == [(0, None, CORRUPT)]
    path = _write(tmp_path, article_set(), "none.xml")
    assert list(iter_items(path, "pubmed-xml")) == []  # an empty set is valid and has no items


def test_splitter_memory_is_bounded() -> None:
    """30 MB of records streamed through the splitter: peak allocation stays around one read block."""
    record = LITHIUM.encode()
    count = 30_000_000 // len(record)

    def blocks() -> Iterator[bytes]:
        yield PUBMED_PROLOG.encode() + b"<PubmedArticleSet>"
        batch = record * 1000
        for _ in range(count // 1000):
            yield batch
        yield b"</PubmedArticleSet>"

    tracemalloc.start()
    try:
        seen = sum(1 for r in xml_records(blocks(), pubmed_xml.RECORD_TAGS, 8_000_000) if r.status == "ok")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count // 1000 * 1000
    assert peak < 8 * len(record) * 1000, peak
