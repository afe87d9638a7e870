"""Document-level exports of literature results: BioC-JSON, PubTator, entity and pair CSV.

Pure formatting over stored rows (passages, entities, relations as JSON), light enough for the API process,
which streams them batch by batch. Offsets are the stored ones: document-level, BioC/PubTator convention.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

FORMATS = {
    "bioc-json": "application/json",
    "pubtator": "text/plain; charset=utf-8",
    "entities-csv": "text/csv; charset=utf-8",
    "pairs-csv": "text/csv; charset=utf-8",
}
ENTITY_COLUMNS = (
    "doc_id",
    "item_index",
    "start",
    "end",
    "text",
    "type",
    "concept_id",
    "concept_name",
    "match",
    "score",
)
PAIR_COLUMNS = (
    "chemical_id",
    "chemical_name",
    "disease_id",
    "disease_name",
    "documents",
    "max_score",
    "mean_score",
    "doc_ids",
)


def _document_text(passages: list[Mapping[str, Any]]) -> str:
    out: list[str] = []
    end = 0
    for p in passages:
        out.append(" " * max(0, p["offset"] - end))
        out.append(p["text"])
        end = max(end, p["offset"]) + len(p["text"])
    return "".join(out)


def bioc_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """One BioC document: annotations sit in the passage that contains them; CID relations at document level."""
    passages = []
    for p in row["passages"]:
        start, stop = p["offset"], p["offset"] + len(p["text"])
        annotations = [
            {
                "id": f"T{i}",
                "infons": {
                    "type": e["type"],
                    "identifier": e.get("concept_id") or "",
                    "score": e.get("score"),
                    **({"match": e["match"]} if e.get("match") else {}),
                },
                "text": e["text"],
                "locations": [{"offset": e["start"], "length": e["end"] - e["start"]}],
            }
            for i, e in enumerate(row["entities"])
            if start <= e["start"] < stop
        ]
        passages.append(
            {
                "offset": p["offset"],
                "infons": {"type": p["kind"]},
                "text": p["text"],
                "sentences": [],
                "annotations": annotations,
                "relations": [],
            }
        )
    relations = [
        {
            "id": f"R{i}",
            "infons": {
                "type": "CID",
                "Chemical": r["chemical_id"],
                "Disease": r["disease_id"],
                "score": r["score"],
                **({"evidence": r["evidence"]} if r.get("evidence") else {}),
            },
            "nodes": [],
        }
        for i, r in enumerate(row["relations"])
    ]
    return {"id": row["doc_id"], "infons": {}, "passages": passages, "annotations": [], "relations": relations}


def bioc_json(rows: Iterable[Mapping[str, Any]], *, source: str = "medsieve", date: str = "") -> Iterator[str]:
    """A BioC-JSON collection, streamed document by document (valid JSON once joined)."""
    head = {"source": source, "date": date, "key": "medsieve.key", "infons": {}}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "documents": ['
    first = True
    for row in rows:
        yield ("" if first else ",\n") + json.dumps(bioc_document(row), ensure_ascii=False)
        first = False
    yield "]}\n"


def _pubtator_id(concept_id: str | None) -> str:
    # BC5CDR's PubTator files write bare MeSH ids ("D008094") and -1 for none; tools that read them expect that.
    if not concept_id:
        return "-1"
    return "|".join(part.removeprefix("MESH:") for part in concept_id.split("|"))


def pubtator_document(row: Mapping[str, Any]) -> str:
    text = _document_text(row["passages"])
    title = row["passages"][0]["text"] if row["passages"] else ""
    # PubTator has a title line and an abstract line; the rest of the document keeps its offsets in the latter.
    abstract = text[len(title) + 1 :] if len(text) > len(title) else ""
    clean = str.maketrans({"\n": " ", "\r": " ", "\t": " ", "|": " "})
    doc = str(row["doc_id"]).translate(clean)
    lines = [f"{doc}|t|{title.translate(clean)}", f"{doc}|a|{abstract.translate(clean)}"]
    for e in sorted(row["entities"], key=lambda e: (e["start"], e["end"])):
        fields = [doc, str(e["start"]), str(e["end"]), e["text"].translate(clean), e["type"]]
        lines.append("\t".join([*fields, _pubtator_id(e.get("concept_id"))]))
    for r in row["relations"]:
        lines.append("\t".join([doc, "CID", _pubtator_id(r["chemical_id"]), _pubtator_id(r["disease_id"])]))
    return "\n".join(lines) + "\n\n"


def pubtator(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield pubtator_document(row)


def _csv(header: tuple[str, ...], records: Iterable[Iterable[Any]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for n, record in enumerate(records, 1):
        writer.writerow(record)
        if n % 2000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def entities_csv(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """One line per mention."""
    return _csv(
        ENTITY_COLUMNS,
        (
            [row["doc_id"], row["item_index"], *(e.get(c) for c in ENTITY_COLUMNS[2:])]
            for row in rows
            for e in row["entities"]
        ),
    )


def pairs_csv(pairs: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The job-level chemical-disease table; doc ids ';'-joined."""
    return _csv(
        PAIR_COLUMNS,
        ([*(p[c] for c in PAIR_COLUMNS[:-1]), ";".join(p["doc_ids"])] for p in pairs),
    )
