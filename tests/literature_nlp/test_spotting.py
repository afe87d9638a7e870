"""Dictionary spotting of consistently annotated names (`workers.literature.spotting`)."""

from __future__ import annotations

import pytest

from tests.literature_nlp.conftest import TRAIN
from workers.literature.mention_rules import document_mentions
from workers.literature.normalize import Lexicon
from workers.literature.pubtator import Mention, read_pubtator
from workers.literature.spotting import SpotTable, build_table, ngram_spans, spot


def mention(text: str, name: str, kind: str, nth: int = 0) -> Mention:
    start = -1
    for _ in range(nth + 1):
        start = text.index(name, start + 1)
    return Mention(start, start + len(name), name, kind)


def test_ngrams_keep_hyphenated_words_whole() -> None:
    keys = {k for _, _, k in ngram_spans("Cisplatin-induced  acute renal failure.", max_words=3)}
    assert {"cisplatin-induced", "acute renal failure", "cisplatin-induced acute renal", "."} <= keys
    assert "cisplatin" not in keys and "renal failure." in keys  # the slice as written, spaces collapsed


def test_table_keeps_names_annotated_in_most_of_their_occurrences() -> None:
    t0, t1, t2 = (
        "Aspirin caused shock. Shock persisted.",
        "Aspirin and aspirin-induced shock: no shock here.",
        "Shock therapy with aspirin.",
    )
    docs = [
        (t0, [mention(t0, "Aspirin", "Chemical"), mention(t0, "shock", "Disease")]),
        (t1, [mention(t1, "Aspirin", "Chemical"), mention(t1, "aspirin", "Chemical")]),  # inside "aspirin-induced"
        (t2, [mention(t2, "aspirin", "Chemical")]),
    ]
    # "aspirin": 3 whole-word occurrences, all annotated (the one inside "aspirin-induced" is no whole word);
    # "shock": annotated in 1 of its 5.
    assert build_table(docs, min_ratio=0.7, min_count=1) == {"aspirin": ["Chemical", 1.0]}
    assert build_table(docs, min_ratio=0.7, min_count=4) == {}
    assert build_table(docs, min_ratio=0.2, min_count=1) == {"aspirin": ["Chemical", 1.0], "shock": ["Disease", 0.2]}


def test_spot_adds_longest_free_matches_with_the_ratio_as_score() -> None:
    table = SpotTable(
        {"renal failure": ["Disease", 0.9], "acute renal failure": ["Disease", 0.8], "lithium": ["Chemical", 1.0]}
    )
    text = "Lithium caused acute renal failure; renal failure recurred with lithium."
    tagged = [mention(text, "lithium", "Chemical")]  # the second lithium, tagged by the model
    out = spot(text, tagged, table)
    assert [(m.text, m.type, m.score) for m in out] == [
        ("Lithium", "Chemical", 1.0),
        ("acute renal failure", "Disease", 0.8),
        ("renal failure", "Disease", 0.9),
        ("lithium", "Chemical", 1.0),  # the tagged one, kept as it was
    ]
    assert out[-1] is tagged[0]
    assert spot(text, tagged, SpotTable()) == tagged


def test_shipped_lexicon_spots_what_the_tagger_left() -> None:
    lexicon = Lexicon.load()
    assert len(lexicon.spotting) > 1000 and lexicon.data["options"]["spotting"] is True
    assert lexicon.spotting["hepatotoxicity"][0] == "Disease"
    text = "Hepatotoxicity after captopril."
    out = document_mentions(text, [], lexicon)
    assert [(m.text, m.type) for m in out] == [("Hepatotoxicity", "Disease"), ("captopril", "Chemical")]
    assert [m.concept_id for m in lexicon.normalize(text, out)] == ["MESH:D056486", "MESH:D002216"]


def test_training_table_from_bc5cdr() -> None:
    if not TRAIN.exists():
        pytest.skip(f"BC5CDR is not at {TRAIN} (set MEDSIEVE_SHARED_DATA)")
    docs = [(g.document.text, g.mentions) for g in read_pubtator(TRAIN)]
    table = build_table(docs)
    assert 1500 < len(table) < 4000, len(table)
    assert table["hepatotoxicity"] == ["Disease", 1.0]
    # "fever" is annotated in 2 of its 9 whole-word occurrences in training: context decides, so no spotting.
    assert "fever" not in table
