"""MEDLINE, BioC XML/JSON, JSON lines, plain text and PMID lists; format detection; gzip."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.enums import ItemErrorCode
from core.errors import InvalidInput
from workers.literature.documents import Document
from workers.literature.parsers import detect_format, iter_items
from workers.literature.parsers._stream import json_array_items
from workers.plugin import Item

from .xmlbuild import article, article_set

PARSE = ItemErrorCode.PARSE_ERROR.value
EMPTY = ItemErrorCode.EMPTY_TEXT.value
ENCODING = ItemErrorCode.ENCODING_ERROR.value

# PubMed's MEDLINE export of the NEJM record (shortened author list), continuation lines as PubMed wraps them.
MEDLINE_NEJM = """\
PMID- 29768149
OWN - NLM
STAT- MEDLINE
DCOM- 20180524
LR  - 20220410
IS  - 1533-4406 (Electronic)
VI  - 378
IP  - 20
DP  - 2018 May 17
TI  - Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma.
PG  - 1865-1876
LID - 10.1056/NEJMoa1715274 [doi]
AB  - BACKGROUND: In patients with mild asthma, as-needed use of an inhaled
      glucocorticoid plus a fast-acting beta2-agonist may be an alternative to
      conventional treatment strategies. METHODS: We conducted a 52-week,
      double-blind trial involving patients 12 years of age or older with mild
      asthma. CONCLUSIONS: In patients with mild asthma, as-needed
      budesonide-formoterol provided superior asthma-symptom control to as-needed
      terbutaline. (Funded by AstraZeneca; SYGMA 1 ClinicalTrials.gov number,
      NCT02149199 .).
FAU - O'Byrne, Paul M
AU  - O'Byrne PM
AD  - From the Firestone Institute for Respiratory Health, St. Joseph's Healthcare
      and Department of Medicine, McMaster University, Hamilton, ON.
LA  - eng
PT  - Clinical Trial, Phase III
PT  - Journal Article
DEP - 20180515
PL  - United States
TA  - N Engl J Med
JT  - The New England journal of medicine
JID - 0255562
MH  - Administration, Inhalation
MH  - *Asthma/drug therapy
MH  - Budesonide, Formoterol Fumarate Drug Combination/*administration & dosage/adverse
      effects
EDAT- 2018/05/17 06:00
SO  - N Engl J Med. 2018 May 17;378(20):1865-1876. doi: 10.1056/NEJMoa1715274. Epub
      2018 May 15.
"""
MEDLINE_TITLE_ONLY = """\
PMID- 30000002
OWN - NLM
DP  - 2019 Jan
TI  - Correction to: lithium dosing in older adults.
JT  - Drugs & Aging
"""
MEDLINE_NO_PMID = """\
OWN - NLM
TI  - A record someone edited by hand.
AB  - It lost its PMID line.
"""


def _message(item: Item) -> str:
    assert item.error is not None
    return item.error[1]


def _write(tmp_path: Path, data: str | bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _summary(items: list) -> list[tuple]:
    return [(it.index, it.key, it.error[0] if it.error else None) for it in items]


def _doc(item) -> Document:
    return Document.from_payload(item.payload["doc"])


# ---------------------------------------------------------------------------------------------- MEDLINE


def test_medline(tmp_path: Path) -> None:
    latin = MEDLINE_NEJM.replace("29768149", "30000005").replace("Inhaled", "Inhal\u00e9").encode("latin-1")
    data = (
        (MEDLINE_NEJM + "\n" + MEDLINE_TITLE_ONLY + "\n\n" + MEDLINE_NO_PMID).encode()
        + latin
        + b"\r\n"
        + MEDLINE_NEJM.replace("29768149", "30000006").replace("\n", "\r\n").encode()
    )
    path = _write(tmp_path, data, "export.nbib")  # no blank line before the latin-1 record: its PMID line starts it
    items = list(iter_items(path, "medline"))
    assert _summary(items) == [
        (0, "29768149", None),
        (1, "30000002", EMPTY),
        (2, None, PARSE),
        (3, "30000005", ENCODING),
        (4, "30000006", None),
    ]
    doc = _doc(items[0])
    title, abstract = doc.passages
    assert title.text == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert abstract.offset == len(title.text) + 1
    assert abstract.text.startswith(
        "BACKGROUND: In patients with mild asthma, as-needed use of an inhaled glucocorticoid plus"
    )
    assert (
        "alternative to conventional treatment strategies. METHODS: We conducted a 52-week, double-blind"
        in abstract.text
    )
    assert abstract.text.endswith("ClinicalTrials.gov number, NCT02149199 .).")
    assert "  " not in abstract.text
    assert doc.meta == {
        "journal": "The New England journal of medicine",
        "year": 2018,
        "mesh_terms": ["Administration, Inhalation", "Asthma", "Budesonide, Formoterol Fumarate Drug Combination"],
    }
    assert _doc(items[4]).passages == doc.passages  # CRLF lines read the same
    lenient = list(iter_items(path, "medline", require_abstract=False))
    assert _doc(lenient[1]).passages[0].text == "Correction to: lithium dosing in older adults."


def test_medline_record_too_long(tmp_path: Path) -> None:
    big = MEDLINE_NEJM.replace("30000002", "x").replace("29768149", "30000009") + "AB  - " + "long text " * 500 + "\n"
    path = _write(tmp_path, MEDLINE_NEJM + "\n" + big + "\n" + MEDLINE_TITLE_ONLY, "big.txt")
    items = list(iter_items(path, "medline", max_record_bytes=3000))
    assert _summary(items) == [
        (0, "29768149", None),
        (1, "30000009", ItemErrorCode.RECORD_TOO_LONG.value),
        (2, "30000002", EMPTY),
    ]


# ---------------------------------------------------------------------------------------------- BioC


def _bioc_xml(docs: list[dict]) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE collection SYSTEM "BioC.dtd">\n<collection>',
        "<source>PubTator</source><date>20240101</date><key>BioC.key</key>",
    ]
    for d in docs:
        title, abstract = d["title"], d["abstract"]
        out.append(f"<document><id>{d['id']}</id>")
        for kind, offset, text in (("title", 0, title), ("abstract", len(title) + 1, abstract)):
            out.append(f'<passage><infon key="type">{kind}</infon><offset>{offset}</offset><text>{_esc(text)}</text>')
            for i, (start, end, mention) in enumerate(d["annotations"]):
                if offset <= start < offset + len(text):
                    loc = f'<location offset="{start}" length="{end - start}"/>'
                    out.append(f'<annotation id="{i}">{loc}<text>{_esc(mention)}</text></annotation>')
            out.append("</passage>")
        out.append("</document>\n")
    return "".join(out)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bioc_json_doc(d: dict) -> dict:
    title, abstract = d["title"], d["abstract"]
    return {
        "id": d["id"],
        "infons": {},
        "passages": [
            {
                "infons": {"type": kind},
                "offset": offset,
                "text": text,
                "annotations": [
                    {"text": m, "locations": [{"offset": s, "length": e - s}]}
                    for s, e, m in d["annotations"]
                    if offset <= s < offset + len(text)
                ],
            }
            for kind, offset, text in (("title", 0, title), ("abstract", len(title) + 1, abstract))
        ],
        "relations": [],
    }


def _check_offsets(items: list, docs: list[dict]) -> None:
    """Each passage sits at its own offset, and every BC5CDR annotation offset points at its mention."""
    for item, d in zip(items, docs, strict=True):
        doc = _doc(item)
        assert item.key == doc.doc_id == d["id"]
        for p in doc.passages:
            assert doc.text[p.offset : p.offset + len(p.text)] == p.text
        assert doc.passages[1].offset == len(d["title"]) + 1
        for start, end, mention in d["annotations"]:
            assert doc.text[start:end] == mention


def test_bioc_xml(tmp_path: Path, bc5cdr: list[dict]) -> None:
    docs = bc5cdr[:5]
    good = _bioc_xml(docs)
    # A document cut short in the middle, and one whose passages overlap, between real ones.
    cut = "<document><id>cut</id><passage><offset>0</offset><text>Cut short"
    overlap = (
        "<document><id>ov</id><passage><offset>0</offset><text>abcdef</text></passage>"
        "<passage><offset>3</offset><text>xyz</text></passage></document>"
    )
    text = good.replace("</document>\n", "</document>\n" + cut + overlap, 1) + "</collection>"
    items = list(iter_items(_write(tmp_path, text, "c.xml"), "bioc-xml"))
    assert _summary(items) == [
        (0, docs[0]["id"], None),
        (1, None, ItemErrorCode.CORRUPT_XML.value),
        (2, "ov", PARSE),
        *[(i + 2, d["id"], None) for i, d in enumerate(docs[1:], 1)],
    ]
    _check_offsets([it for it in items if it.error is None], docs)
    assert _doc(items[0]).source == "bioc-xml"


def test_bioc_json(tmp_path: Path, bc5cdr: list[dict]) -> None:
    docs = bc5cdr[:5]
    entries = [json.dumps(_bioc_json_doc(d), indent=1) for d in docs]
    entries.insert(2, '{"id": "bad", "passages": ["not an object"]}')
    entries.insert(
        3, '{"id": "weird {\\"}[", "passages": [{"infons": {}, "offset": 0, "text": "Braces { and ] in \\"text\\"."}]}'
    )
    data = (
        '{"source": "PubTator", "date": "2024", "key": "documents",\n "documents": [\n'
        + ",\n".join(entries)
        + '\n], "infons": {}}'
    )
    path = _write(tmp_path, data, "c.json")
    items = list(iter_items(path, "bioc-json"))
    assert _summary(items) == [
        (0, docs[0]["id"], None),
        (1, docs[1]["id"], None),
        (2, "bad", PARSE),
        (3, 'weird {"}[', None),
        *[(i + 2, d["id"], None) for i, d in enumerate(docs[2:], 2)],
    ]
    assert _doc(items[3]).text == 'Braces { and ] in "text".'
    _check_offsets([it for it in items if it.error is None and it.index != 3], docs)
    # The splitter finds the same objects whatever the read block size.
    raw = data.encode()
    whole = [r.data for r in json_array_items([raw], b"documents", 1 << 20)]
    for size in (1, 5, 64):
        blocks = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert [r.data for r in json_array_items(blocks, b"documents", 1 << 20)] == whole


def test_bioc_json_truncated_and_missing(tmp_path: Path) -> None:
    cut = '{"documents": [{"id": "1", "passages": [{"offset": 0, "text": "Aspirin."}]}, {"id": "2", "passages": [{"off'
    items = list(iter_items(_write(tmp_path, cut, "cut.json"), "bioc-json"))
    assert _summary(items) == [(0, "1", None), (1, None, PARSE)]
    with pytest.raises(InvalidInput, match="documents"):
        list(iter_items(_write(tmp_path, '{"source": "x"}', "none.json"), "bioc-json"))


# ---------------------------------------------------------------------------------------------- JSONL, text


def test_jsonl(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a1", "text": "Cisplatin caused ototoxicity in 12 of 40 children."}),
        json.dumps(
            {
                "pmid": 6794356,
                "title": "Lithium toxicity in a newborn.",
                "abstract": "A newborn with tricuspid regurgitation.",
            }
        ),
        '{"id": "broken", "text": "unterminated',
        "",
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "empty", "text": "   "}),
        json.dumps({"text": "Bad surrogate \udcff here."}),
        json.dumps({"title": "Only a title."}),
    ]
    data = "\n".join(lines).encode() + b'\n{"text": "caf\xe9"}\n'
    items = list(iter_items(_write(tmp_path, data, "in.jsonl"), "jsonl"))
    assert _summary(items) == [
        (0, "a1", None),
        (1, "6794356", None),
        (2, None, PARSE),
        (3, None, PARSE),
        (4, "empty", EMPTY),
        (5, None, ENCODING),
        (6, None, None),
        (7, None, ENCODING),
    ]
    first = _doc(items[0])
    assert first.passages == [first.passages[0]] and first.passages[0].kind == "text" and first.doc_id == "a1"
    second = _doc(items[1])
    assert [(p.kind, p.offset) for p in second.passages] == [("title", 0), ("abstract", 31)]
    assert _doc(items[6]).doc_id == "6"  # no id: the item index


def test_plain_text(tmp_path: Path, bc5cdr: list[dict]) -> None:
    d0, d1 = bc5cdr[0], bc5cdr[1]
    text = f"{d0['title']}\r\n{d0['abstract']}\r\n\r\n\r\n{d1['abstract']}\n   \n{d1['title']}\nline two\nline three\n"
    items = list(iter_items(_write(tmp_path, text, "in.txt"), "text"))
    assert _summary(items) == [(0, None, None), (1, None, None), (2, None, None)]
    first = _doc(items[0])
    assert first.text == d0["title"] + " " + d0["abstract"]  # the PubTator layout: BC5CDR offsets hold
    for start, end, mention in d0["annotations"]:
        assert first.text[start:end] == mention
    assert _doc(items[1]).passages[0].kind == "text" and _doc(items[1]).doc_id == "1"
    third = _doc(items[2])
    assert third.passages[1].text == "line two\nline three"
    latin = _write(tmp_path, b"caf\xe9\n\nfine text\n", "latin.txt")
    assert _summary(list(iter_items(latin, "text"))) == [(0, None, ENCODING), (1, None, None)]


# ---------------------------------------------------------------------------------------------- PMIDs


def test_pmids(tmp_path: Path) -> None:
    data = "# my list\n29768149\n\n6794356, 6504332 ; 29768149\nPMC12345\n  000123 # leading zeros\n0\n12345678901234\n"
    items = list(iter_items(_write(tmp_path, data, "ids.txt"), "pmids"))
    assert [(it.index, it.key, it.payload, it.error[0] if it.error else None) for it in items] == [
        (0, "29768149", {"pmid": "29768149"}, None),
        (1, "6794356", {"pmid": "6794356"}, None),
        (2, "6504332", {"pmid": "6504332"}, None),
        (3, "29768149", {"pmid": "29768149"}, None),  # duplicates stay items
        (4, None, {}, PARSE),
        (5, "123", {"pmid": "123"}, None),
        (6, None, {}, PARSE),
        (7, None, {}, PARSE),
    ]
    assert "'PMC12345' is not a PMID" in _message(items[4])


def test_gzip_is_transparent(tmp_path: Path) -> None:
    ids = "29768149\n6794356\n"
    plain = list(iter_items(_write(tmp_path, ids, "ids.txt"), "pmids"))
    packed = _write(tmp_path, gzip.compress(ids.encode()), "ids.txt.gz")
    assert list(iter_items(packed, "pmids")) == plain
    assert detect_format("ids.txt.gz", packed.read_bytes()[:8192], None) == "pmids"
    lines = gzip.compress(b'{"id": "x", "text": "Aspirin."}\n')
    assert [it.key for it in iter_items(_write(tmp_path, lines, "a.jsonl.gz"), "jsonl")] == ["x"]
    broken = _write(tmp_path, gzip.compress(ids.encode() * 5000)[:-200], "cut.gz")
    with pytest.raises(InvalidInput, match="gzip"):
        list(iter_items(broken, "pmids"))


# ---------------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (article_set(article("1", "T", [(None, "A.")])), "pubmed-xml"),
        ("<PubmedArticle><MedlineCitation>", "pubmed-xml"),
        ('<?xml version="1.0"?><!DOCTYPE collection SYSTEM "BioC.dtd"><collection><source>', "bioc-xml"),
        ('{"source": "PubTator", "documents": [{"id": "1", "passages": []}]}', "bioc-json"),
        ('{\n  "source": "PubTator",\n  "documents": [\n', "bioc-json"),
        ('{"id": 1, "text": "Aspirin."}\n{"id": 2, "text": "Heparin."}\n', "jsonl"),
        ('{"id": 1, "text": "a document with the word documents in it"}\n', "jsonl"),
        ("PMID- 29768149\nOWN - NLM\n", "medline"),
        ("29768149\n6794356, 6504332\n# comment\n", "pmids"),
        ("29768149\n6794356\nnot-a-pmid\n", "pmids"),  # a typo is that token's PARSE_ERROR, not a text document
        ("aspirin\nheparin\n29768149\n", "text"),
        ("Aspirin causes asthma.\n29768149\n6794356\n", "text"),
        ("Lithium toxicity in a newborn.\nA newborn with tricuspid regurgitation.\n", "text"),
        ("1. Introduction\nAspirin is old.\n", "text"),
        ("", "text"),
    ],
)
def test_detect(head: str, expected: str) -> None:
    assert detect_format("upload", head.encode(), None) == expected
    assert detect_format(None, gzip.compress(head.encode()), "auto") == expected


def test_declared_format_wins_but_junk_is_refused() -> None:
    assert detect_format("ids.txt", b"29768149\n", "text") == "text"
    with pytest.raises(InvalidInput, match="unknown literature input format"):
        detect_format(None, b"29768149\n", "pdf")
    for junk, match in [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (bytes(range(256)) * 4, "binary"),
        ("A text".encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04\x14\x00", "zip"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip"),
    ]:
        with pytest.raises(InvalidInput, match=match):
            detect_format("upload", junk, None)
        with pytest.raises(InvalidInput):
            detect_format("upload", junk, "text")


def test_unsafe_or_foreign_xml_is_refused_at_upload() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY a "b">]><PubmedArticleSet>'
    for declared in (None, "pubmed-xml", "bioc-xml"):
        with pytest.raises(InvalidInput, match="unsafe XML"):
            detect_format("x.xml", bomb, declared)
    with pytest.raises(InvalidInput, match="unsafe XML"):
        detect_format("x.xml", b'<!DOCTYPE PubmedArticleSet SYSTEM "http://127.0.0.1:9/x.dtd"><PubmedArticleSet>', None)
    with pytest.raises(InvalidInput, match="neither"):
        detect_format("x.xml", b"<html><body>Not found</body></html>", None)


def test_detection_module_is_light() -> None:
    """The API imports detect_format: no Biopython, defusedxml, torch or transformers at import time."""
    code = (
        "import sys; import workers.literature.parsers as p; "
        "p.detect_format('x', b'<PubmedArticleSet>', None); "
        "heavy = [m for m in ('Bio', 'defusedxml', 'torch', 'transformers', 'httpx') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stdout + result.stderr


def test_inline_items_name_pmids_or_carry_text(tmp_path: Path) -> None:
    """What POST /v1/jobs with JSON `items` writes: one JSON value per line."""
    from workers.literature.parsers import iter_items

    path = tmp_path / "items.jsonl"
    lines = [
        '"29768149"',
        '{"pmid": 123}',
        '"Aspirin induced asthma."',
        '{"pmid": "12ab"}',
        '{"id": "x", "pmid": 5, "text": "t"}',
    ]
    path.write_text("\n".join(lines) + "\n")
    items = list(iter_items(path, "jsonl"))
    assert [it.payload.get("pmid") for it in items] == ["29768149", "123", None, None, None]
    assert items[2].payload["doc"]["passages"][0]["text"] == "Aspirin induced asthma."
    assert items[3].error is not None and items[3].error[0] == "PARSE_ERROR"
    assert items[4].key == "x" and items[4].payload["doc"]["doc_id"] == "x"
