from __future__ import annotations

import json
from pathlib import Path

from workers.literature.documents import from_title_abstract
from workers.literature.pubtator import (
    GoldDoc,
    Mention,
    Relation,
    format_pubtator,
    id_parts,
    parse_pubtator,
    read_pubtator,
    write_pubtator,
)

TITLE = "Lithium-induced tremor and renal failure."
ABSTRACT = (
    "A patient on lithium carbonate (Li) developed tremor; [3H]-naloxone binding and pulmonary and renal insufficiency."
)


def _mentions(text: str) -> list[Mention]:
    def at(s: str, kind: str, cid: str | None, nth: int = 0) -> Mention:
        start = -1
        for _ in range(nth + 1):
            start = text.index(s, start + 1)
        return Mention(start, start + len(s), s, kind, concept_id=cid)

    return [
        at("Lithium", "Chemical", "MESH:D008094"),
        at("tremor", "Disease", "MESH:D014202"),
        at("lithium carbonate", "Chemical", "MESH:D016651"),
        at("Li", "Chemical", "MESH:D008094", nth=1),
        at("[3H]-naloxone", "Chemical", None),
        at("pulmonary and renal insufficiency", "Disease", "MESH:D011665|MESH:D051437"),
    ]


def test_write_read_round_trip_keeps_offsets(tmp_path: Path) -> None:
    doc = from_title_abstract("123", TITLE, ABSTRACT, "text")
    mentions = _mentions(doc.text)
    rel = Relation("MESH:D008094", "MESH:D014202", 0.9, (0, len(TITLE)), "Lithium", "tremor")
    path = tmp_path / "out.txt"
    assert write_pubtator(path, [(doc, mentions, [rel]), (doc, [], [])]) == 2
    back = read_pubtator(path)
    assert len(back) == 2
    got = back[0]
    assert got.document.text == doc.text
    assert [(m.start, m.end, m.text, m.type, m.concept_id) for m in got.mentions] == [
        (m.start, m.end, m.text, m.type, m.concept_id) for m in mentions
    ]
    for m in got.mentions:
        assert got.document.text[m.start : m.end] == m.text
    assert got.pairs == {("MESH:D008094", "MESH:D014202")}
    assert back[1].mentions == [] and back[1].pairs == set()


def test_bare_ids_on_disk_and_composite_ids() -> None:
    doc = from_title_abstract("9", TITLE, ABSTRACT, "text")
    block = format_pubtator(doc, _mentions(doc.text), [("MESH:D008094", "MESH:D014202")])
    lines = block.rstrip("\n").splitlines()
    assert lines[0] == f"9|t|{TITLE}"
    assert "\tDisease\tD011665|D051437" in block
    assert "\tChemical\t-1" in block  # unnormalized
    assert lines[-1] == "9\tCID\tD008094\tD014202"
    assert block.endswith("\n\n")


def test_newlines_in_text_do_not_break_the_format() -> None:
    doc = from_title_abstract("7", "Title", "Line one.\nLine two.", "text")
    m = Mention(doc.text.index("two"), doc.text.index("two") + 3, "two", "Chemical")
    (got,) = list(parse_pubtator(format_pubtator(doc, [m]).splitlines()))
    assert got.mentions[0].start == m.start
    assert got.document.text[m.start : m.end] == "two"


def test_records_are_json_safe() -> None:
    m = Mention(3, 9, "aspirin", "Chemical", 0.97, "MESH:D001241", "Aspirin", "exact")
    r = Relation("MESH:D001241", "MESH:D006470", float("nan"), (0, 40), "aspirin", "bleeding")
    assert Mention.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    r2 = Relation.from_dict(json.loads(json.dumps(r.to_dict())))
    assert r2.evidence == (0, 40) and r2.score == 0.0


def test_invalid_records_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        Mention(0, 3, "abc", "Protein")
    with pytest.raises(ValueError):
        Mention(5, 3, "abc", "Chemical")
    with pytest.raises(ValueError):
        list(parse_pubtator(["1|t|Aspirin.", "1|a|", "1\t0\t7\tAspirix\tChemical\tD001241"]))


def test_reads_bc5cdr_development(dev_docs: list[GoldDoc]) -> None:
    assert len(dev_docs) == 500
    assert sum(len(g.pairs) for g in dev_docs) == 1012
    composite = [m for g in dev_docs for m in g.mentions if m.concept_id and "|" in m.concept_id]
    assert composite and all(p.startswith("MESH:") for m in composite for p in id_parts(m.concept_id))
