"""Exports and the job-level aggregation on hand-built annotated documents (pure code, exact values)."""

from __future__ import annotations

import csv
import io
import json

from workers.literature import exports
from workers.literature.finalize import aggregate

TITLE = "Lithium carbonate toxicity in a newborn."
ABSTRACT = "Lithium caused cardiac arrhythmia.\nNo\ttabs | here."


def _row(doc_id: str = "6794356", item_index: int = 0) -> dict:
    abstract_at = len(TITLE) + 1
    entities = [
        {
            "start": 0,
            "end": 17,
            "text": "Lithium carbonate",
            "type": "Chemical",
            "concept_id": "MESH:D016651",
            "concept_name": "Lithium Carbonate",
            "match": "exact",
            "score": 0.99,
        },
        {"start": 18, "end": 26, "text": "toxicity", "type": "Disease", "concept_id": None, "score": 0.6},
        {
            "start": abstract_at,
            "end": abstract_at + 7,
            "text": "Lithium",
            "type": "Chemical",
            "concept_id": "MESH:D008094",
            "concept_name": "Lithium",
            "match": "exact",
            "score": 0.98,
        },
        {
            "start": abstract_at + 15,
            "end": abstract_at + 33,
            "text": "cardiac arrhythmia",
            "type": "Disease",
            "concept_id": "MESH:D001145",
            "concept_name": "Arrhythmias, Cardiac",
            "match": "normalized",
            "score": 0.9,
        },
    ]
    relations = [
        {
            "chemical_id": "MESH:D008094",
            "disease_id": "MESH:D001145",
            "score": 0.8,
            "evidence": [abstract_at, abstract_at + 34],
            "chemical_text": "Lithium",
            "disease_text": "cardiac arrhythmia",
        }
    ]
    passages = [
        {"kind": "title", "offset": 0, "text": TITLE},
        {"kind": "abstract", "offset": abstract_at, "text": ABSTRACT},
    ]
    return {
        "doc_id": doc_id,
        "item_index": item_index,
        "passages": passages,
        "entities": entities,
        "relations": relations,
    }


def test_bioc_json_is_valid_and_offsets_point_at_the_text() -> None:
    doc = json.loads("".join(exports.bioc_json([_row(), _row("2", 1)])))
    assert [d["id"] for d in doc["documents"]] == ["6794356", "2"]
    first = doc["documents"][0]
    title, abstract = first["passages"]
    assert [a["text"] for a in title["annotations"]] == ["Lithium carbonate", "toxicity"]
    assert [a["text"] for a in abstract["annotations"]] == ["Lithium", "cardiac arrhythmia"]
    for passage in first["passages"]:
        for a in passage["annotations"]:
            loc = a["locations"][0]
            local = loc["offset"] - passage["offset"]
            assert passage["text"][local : local + loc["length"]] == a["text"]
    assert first["relations"][0]["infons"] == {
        "type": "CID",
        "Chemical": "MESH:D008094",
        "Disease": "MESH:D001145",
        "score": 0.8,
        "evidence": [len(TITLE) + 1, len(TITLE) + 35],
    }
    assert title["annotations"][1]["infons"]["identifier"] == ""


def test_pubtator_keeps_offsets_and_bc5cdr_id_conventions() -> None:
    text = "".join(exports.pubtator([_row()]))
    lines = text.strip("\n").split("\n")
    assert lines[0] == f"6794356|t|{TITLE}"
    assert lines[1].startswith("6794356|a|Lithium caused")
    assert "\t" not in lines[1] and lines[1].count("|") == 2  # tabs and pipes in the text cannot break the format
    full = TITLE + " " + lines[1].split("|", 2)[2]
    mentions = [line.split("\t") for line in lines[2:] if line.split("\t")[1] != "CID"]
    assert [m[5] for m in mentions] == ["D016651", "-1", "D008094", "D001145"]
    for m in mentions:
        assert full[int(m[1]) : int(m[2])] == m[3]
    assert lines[-1] == "6794356\tCID\tD008094\tD001145"
    assert text.endswith("\n\n")


def test_entities_csv_has_one_line_per_mention() -> None:
    rows = list(csv.DictReader(io.StringIO("".join(exports.entities_csv([_row(), _row("2", 1)])))))
    assert len(rows) == 8
    assert rows[0]["concept_id"] == "MESH:D016651" and rows[0]["start"] == "0" and rows[0]["end"] == "17"
    assert rows[1]["concept_id"] == ""


def test_pairs_count_documents_once_and_keep_structures_from_the_lexicon() -> None:
    annotations = [(r["doc_id"], r["entities"], r["relations"]) for r in (_row("1", 0), _row("2", 1), _row("2", 2))]
    # Document "2" appears twice (a duplicate record): its vote counts once.
    pairs, chemicals = aggregate(annotations, {"MESH:D008094": "[Li+]"}.get)
    assert len(pairs) == 1
    pair = pairs[0]
    assert pair["documents"] == 2 and pair["doc_ids"] == ["1", "2"]
    assert pair["chemical_name"] == "Lithium" and pair["max_score"] == 0.8
    by_id = {c["concept_id"]: c for c in chemicals}
    assert by_id["MESH:D008094"]["smiles"] == "[Li+]" and by_id["MESH:D008094"]["mentions"] == 3
    assert by_id["MESH:D016651"]["smiles"] is None and by_id["MESH:D016651"]["documents"] == 2
    csv_rows = list(csv.DictReader(io.StringIO("".join(exports.pairs_csv(pairs)))))
    assert csv_rows[0]["doc_ids"] == "1;2"
