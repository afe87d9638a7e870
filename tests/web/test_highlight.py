"""Entity highlighting of the literature document page (api/web/highlight.py): pure code, exact segments on
hand-made documents, and the one invariant that matters most: a passage's segments join back to its text."""

from __future__ import annotations

import itertools
import random
from typing import Any

from api.web import highlight
from api.web.highlight import Segment


def ent(start: Any, end: Any, kind: str = "Chemical", **more: Any) -> dict[str, Any]:
    return {"start": start, "end": end, "type": kind, "text": "", "score": 0.9, **more}


def cut(text: str, entities: list[Any], offset: int = 0) -> list[tuple[str, Any]]:
    """Segments of one text that starts at `offset` in the document, as (text, entity) pairs."""
    marks = highlight.visible_entities(entities, offset + len(text))
    return [tuple(s) for s in highlight.segments(text, offset, marks)]


def test_plain_text_and_simple_marks() -> None:
    text = "Lithium caused arrhythmia."
    assert cut(text, []) == [(text, None)]
    lithium, arrhythmia = ent(0, 7), ent(15, 25, "Disease")
    assert cut(text, [arrhythmia, lithium]) == [  # stored order does not matter
        ("Lithium", lithium),
        (" caused ", None),
        ("arrhythmia", arrhythmia),
        (".", None),
    ]
    whole = ent(0, len(text))
    assert cut(text, [whole]) == [(text, whole)]
    assert cut("", [ent(0, 1)]) == []


def test_adjacent_mentions_both_marked_without_a_gap() -> None:
    text = "NaCl-induced"
    salt, induced = ent(0, 4), ent(4, 12, "Disease")
    assert cut(text, [salt, induced]) == [("NaCl", salt), ("-induced", induced)]


def test_nested_and_overlapping_mentions_keep_the_longer_one() -> None:
    text = "lithium carbonate toxicity"
    carbonate, lithium = ent(0, 17), ent(0, 7)
    inner = ent(8, 17)
    assert cut(text, [lithium, carbonate, inner]) == [("lithium carbonate", carbonate), (" toxicity", None)]

    short, long = ent(0, 10), ent(5, 26, "Disease")  # partial overlap: the longer wins, the shorter is not trimmed
    assert cut(text, [short, long]) == [("lithi", None), ("um carbonate toxicity", long)]

    first, second = ent(0, 7), ent(4, 11, "Disease")  # same length: the earlier one
    assert cut(text, [second, first]) == [("lithium", first), (" carbonate toxicity", None)]

    low, high = ent(0, 7, score=0.2), ent(0, 7, "Gene", score=0.8)  # same span: the higher score
    assert cut(text, [low, high])[0] == ("lithium", high)
    a, b = ent(0, 7), ent(0, 7)  # a complete tie: the first listed
    assert cut(text, [a, b])[0][1] is a


def test_passage_boundaries() -> None:
    title, abstract = "Aspirin toxicity.", "Aspirin caused it."
    passages = [{"kind": "title", "offset": 0, "text": title}, {"kind": "abstract", "offset": 18, "text": abstract}]
    text = highlight.document_text(passages)
    assert text == title + " " + abstract
    at_title_end = ent(8, 16, "Disease")  # "toxicity", ends one character before the title does
    last_char = ent(16, 17)  # the title's final "."
    at_abstract_start = ent(18, 25)  # "Aspirin" at the abstract's first character
    at_text_end = ent(33, 36)  # "it." ends where the document ends
    in_gap = ent(17, 18)  # the joining space belongs to no passage
    marks = highlight.visible_entities([at_title_end, last_char, at_abstract_start, at_text_end, in_gap], len(text))
    views = highlight.passage_views(passages, marks)
    assert [(v.kind, v.offset) for v in views] == [("title", 0), ("abstract", 18)]
    assert [tuple(s) for s in views[0].segments] == [
        ("Aspirin ", None),
        ("toxicity", at_title_end),
        (".", last_char),
    ]
    assert [tuple(s) for s in views[1].segments] == [
        ("Aspirin", at_abstract_start),
        (" caused ", None),
        ("it.", at_text_end),
    ]


def test_a_mention_across_passages_shows_in_both() -> None:
    passages = [{"kind": "title", "offset": 0, "text": "Heart"}, {"kind": "abstract", "offset": 6, "text": "failure."}]
    across = ent(3, 13, "Disease")
    views = highlight.passage_views(passages, highlight.visible_entities([across], 14))
    assert [tuple(s) for s in views[0].segments] == [("Hea", None), ("rt", across)]
    assert [tuple(s) for s in views[1].segments] == [("failure", across), (".", None)]


def test_broken_and_out_of_range_offsets_are_ignored() -> None:
    text = "Cocaine and seizures."
    good = ent(0, 7)
    broken: list[Any] = [
        ent(-1, 3),
        ent(5, len(text) + 1),
        ent(4, 4),
        ent(9, 2),
        ent("0", "7"),
        ent(True, 5),
        ent(0.0, 7.0),
        ent(None, None),
        {"type": "Chemical"},
        "not a mention",
        None,
        ent(10**12, 10**12 + 5),
    ]
    assert highlight.visible_entities([*broken, good], len(text)) == [good]
    assert cut(text, [*broken, good]) == [("Cocaine", good), (" and seizures.", None)]
    # segments() on its own re-checks what it is given and clips marks to its text.
    raw = highlight.segments(text, 0, [*broken[:4], good])
    assert "".join(s.text for s in raw) == text
    assert highlight.segments(text, 100, [good]) == [Segment(text, None)]  # marks before this text


def test_malformed_passages_are_skipped() -> None:
    passages: list[Any] = [
        {"kind": "title", "offset": 0, "text": "Fine."},
        {"kind": "abstract", "offset": -4, "text": "negative"},
        {"kind": "abstract", "offset": 7, "text": None},
        {"offset": 7, "text": "no kind"},
        "junk",
    ]
    views = highlight.passage_views(passages, [])
    assert [(v.kind, v.offset, [tuple(s) for s in v.segments]) for v in views] == [
        ("title", 0, [("Fine.", None)]),
        ("text", 7, [("no kind", None)]),
    ]
    assert highlight.document_text(passages) == "Fine.  no kind"


def test_segments_always_join_back_to_the_text() -> None:
    rng = random.Random(20261123)
    words = ["Lithium", "<script>", "&amp;", "é", "\U0001d6fc-TNF", "\n", " ", "toxicity", "'\"", "x"]
    for _ in range(400):
        title = "".join(rng.choice(words) for _ in range(rng.randint(0, 6)))
        abstract = "".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        passages = [{"kind": "title", "offset": 0, "text": title}]
        if abstract:
            passages.append({"kind": "abstract", "offset": len(title) + 1, "text": abstract})
        text = highlight.document_text(passages)
        entities = []
        for _ in range(rng.randint(0, 12)):
            start = rng.randint(-3, len(text) + 3)
            entities.append(ent(start, start + rng.randint(-2, 12), rng.choice(["Chemical", "Disease", "Gene"])))
        marks = highlight.visible_entities(entities, len(text))
        spans = [(m["start"], m["end"]) for m in marks]
        assert spans == sorted(spans) and all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        for p, view in zip(passages, highlight.passage_views(passages, marks), strict=True):
            assert "".join(s.text for s in view.segments) == p["text"]
            assert all(s.text for s in view.segments)
            at = view.offset
            for s in view.segments:  # a mark sits inside its mention's offsets, and only there
                if s.entity is not None:
                    assert s.entity["start"] <= at and at + len(s.text) <= s.entity["end"]
                    assert text[at : at + len(s.text)] == s.text
                at += len(s.text)


def test_tooltip_and_class() -> None:
    lithium = ent(0, 7, concept_id="MESH:D008094", concept_name="Lithium", score=0.98234)
    assert highlight.entity_title(lithium) == "Chemical · MESH:D008094 · Lithium · 0.982"
    assert highlight.entity_title(ent(0, 7, "Disease", concept_id=None, score=0.5)) == "Disease · no MeSH id · 0.500"
    assert highlight.entity_title({"type": "Gene", "score": float("nan")}) == "Gene · no MeSH id"
    assert highlight.entity_title({}) == "? · no MeSH id"
    assert highlight.entity_class(lithium) == "ent-chemical"
    assert highlight.entity_class(ent(0, 1, "Disease")) == "ent-disease no-id"
    assert highlight.entity_class(ent(0, 1, "Gene")) == "ent-gene"  # genes are not normalized: never dashed
    assert highlight.entity_class(ent(0, 1, '" onmouseover="x', concept_id="x")) == "ent-other"


def test_evidence_is_cut_from_the_document_text() -> None:
    text = "Title here. Cocaine caused seizures. Another sentence."
    cocaine, seizures = ent(12, 19), ent(27, 35, "Disease")
    marks = highlight.visible_entities([cocaine, seizures], len(text))
    assert [tuple(s) for s in highlight.evidence_segments(text, [12, 36], marks)] == [
        ("Cocaine", cocaine),
        (" caused ", None),
        ("seizures", seizures),
        (".", None),
    ]
    for missing in (None, [], [12], [36, 12], [0, 999], ["12", "36"], "12-36"):
        assert highlight.evidence_segments(text, missing, marks) == []
    long_text = "x" * 3000
    cut_off = highlight.evidence_segments(long_text, [0, 3000], [])
    assert cut_off == [Segment("x" * highlight.EVIDENCE_MAX_CHARS, None), Segment("…", None)]


def test_document_view() -> None:
    title = "<script>window.__pwned=1</script> Lithium carbonate toxicity"
    abstract = "Lithium caused cardiac arrhythmia."
    at = len(title) + 1
    passages = [{"kind": "title", "offset": 0, "text": title}, {"kind": "abstract", "offset": at, "text": abstract}]
    carbonate = ent(34, 51, concept_id="MESH:D016651", concept_name="Lithium Carbonate")
    lithium_in_title = ent(34, 41, concept_id="MESH:D008094", concept_name="Lithium")
    lithium = ent(at, at + 7, concept_id="MESH:D008094", concept_name="Lithium")
    arrhythmia = ent(at + 15, at + 33, "Disease", concept_id="MESH:D001145", concept_name="Arrhythmias, Cardiac")
    gene = ent(10**6, 10**6 + 3, "Gene")
    relations = [
        {"chemical_id": "MESH:D016651", "disease_id": "MESH:D001145", "score": 0.4, "evidence": None,
         "chemical_text": "Lithium carbonate", "disease_text": "cardiac arrhythmia"},
        {"chemical_id": "MESH:D008094", "disease_id": "MESH:D001145", "score": 0.8, "evidence": [at, at + 34],
         "chemical_text": "Lithium", "disease_text": "cardiac arrhythmia"},
        "junk",
    ]  # fmt: skip
    view = highlight.document_view(passages, [lithium_in_title, carbonate, lithium, arrhythmia, gene], relations)
    assert (view.marked, view.hidden) == (3, 2)
    assert view.type_counts == {"Chemical": 3, "Disease": 1, "Gene": 1}
    assert [tuple(s) for s in view.passages[0].segments] == [
        ("<script>window.__pwned=1</script> ", None),  # text like any other; the template escapes it
        ("Lithium carbonate", carbonate),
        (" toxicity", None),
    ]
    assert [(r.chemical, r.chemical_id, r.disease, r.score) for r in view.relations] == [
        ("Lithium", "MESH:D008094", "Arrhythmias, Cardiac", 0.8),
        ("Lithium Carbonate", "MESH:D016651", "Arrhythmias, Cardiac", 0.4),
    ]
    assert [s.text for s in view.relations[0].evidence] == ["Lithium", " caused ", "cardiac arrhythmia", "."]
    assert view.relations[1].evidence == []
    assert [(e["start"], shown) for e, shown in view.mentions] == [
        (34, False),
        (34, True),
        (at, True),
        (at + 15, True),
        (10**6, False),
    ]


def test_literature_domain_view() -> None:
    from api.web import views
    from workers.literature.plugin import EXPORT_COLUMNS

    view = views.domain_view("literature")
    columns = views.ordered_columns(list(EXPORT_COLUMNS), view)
    assert columns[:12] == list(view.preferred)
    assert not {"passages", "entities", "relations"} & set(columns)
    assert set(columns) == set(EXPORT_COLUMNS) - {"passages", "entities", "relations"}
    assert views.item_url("j", "literature", 7) == "/ui/jobs/j/documents/7"
    assert views.item_url("j", "screening", 7) is None and views.image_url("j", "literature", 7) is None
    assert views.ordered_columns(["score", "entities"], views.domain_view("screening")) == ["score", "entities"]
