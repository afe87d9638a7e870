"""PubTator corpora in and out, and the mention/relation records the whole literature domain passes around.

PubTator layout (BC5CDR): `pmid|t|title`, `pmid|a|abstract`, mention lines
`pmid<TAB>start<TAB>end<TAB>text<TAB>type<TAB>ids[<TAB>composite parts]`, relation lines
`pmid<TAB>CID<TAB>chemical<TAB>disease`, a blank line between documents. Offsets are into title + " " + abstract,
the same convention as `Document.text`, so nothing is shifted on the way in or out.

Concept ids carry a "MESH:" prefix everywhere inside the product (a bare "D008094" is ambiguous once other
vocabularies join); BC5CDR writes them bare, so the reader adds the prefix and the writer can strip it again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from workers.literature.documents import Document, from_title_abstract

ENTITY_TYPES = frozenset({"Chemical", "Disease", "Gene"})
MESH_PREFIX = "MESH:"
MATCH_KINDS = frozenset({"exact", "normalized", "abbreviation", "fuzzy"})


def mesh_id(raw: str) -> str | None:
    """'D008094' / 'MESH:D008094' / 'D1|D2' -> prefixed id(s); '-1' and empty -> None."""
    parts = [p.strip() for p in raw.split("|") if p.strip() and p.strip() != "-1"]
    if not parts:
        return None
    return "|".join(p if ":" in p else MESH_PREFIX + p for p in parts)


def id_parts(concept_id: str | None) -> list[str]:
    """The single concepts of a (possibly composite) id."""
    return [p for p in (concept_id or "").split("|") if p]


def bare_id(concept_id: str | None) -> str:
    if not concept_id:
        return "-1"
    return "|".join(p.removeprefix(MESH_PREFIX) for p in id_parts(concept_id))


@dataclass(slots=True)
class Mention:
    start: int  # character offsets into Document.text, end exclusive
    end: int
    text: str
    type: str  # Chemical | Disease | Gene
    score: float = 1.0
    concept_id: str | None = None  # "MESH:D008094"; composite mentions join ids with "|"
    concept_name: str | None = None
    match: str | None = None  # exact | normalized | abbreviation | fuzzy; None when unmatched

    def __post_init__(self) -> None:
        if self.type not in ENTITY_TYPES:
            raise ValueError(f"unknown entity type {self.type!r}")
        if self.end < self.start:
            raise ValueError(f"mention ends before it starts: {self.start}..{self.end}")
        if self.match is not None and self.match not in MATCH_KINDS:
            raise ValueError(f"unknown match kind {self.match!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "type": self.type,
            "score": _finite(self.score),
            "concept_id": self.concept_id,
            "concept_name": self.concept_name,
            "match": self.match,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mention:
        return cls(
            start=int(data["start"]),
            end=int(data["end"]),
            text=str(data["text"]),
            type=str(data["type"]),
            score=float(data.get("score", 1.0)),
            concept_id=data.get("concept_id"),
            concept_name=data.get("concept_name"),
            match=data.get("match"),
        )


@dataclass(slots=True)
class Relation:
    chemical_id: str
    disease_id: str
    score: float  # probability in [0, 1]
    evidence: tuple[int, int] | None  # character span of the best supporting sentence
    chemical_text: str
    disease_text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "chemical_id": self.chemical_id,
            "disease_id": self.disease_id,
            "score": _finite(self.score),
            "evidence": list(self.evidence) if self.evidence is not None else None,
            "chemical_text": self.chemical_text,
            "disease_text": self.disease_text,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Relation:
        ev = data.get("evidence")
        return cls(
            chemical_id=str(data["chemical_id"]),
            disease_id=str(data["disease_id"]),
            score=float(data["score"]),
            evidence=(int(ev[0]), int(ev[1])) if ev is not None else None,
            chemical_text=str(data.get("chemical_text", "")),
            disease_text=str(data.get("disease_text", "")),
        )


def _finite(x: float) -> float:
    # JSON has no NaN/inf; a broken score must not make a payload unserializable.
    return float(x) if math.isfinite(x) else 0.0


class GoldDoc(NamedTuple):
    document: Document
    mentions: list[Mention]
    pairs: set[tuple[str, str]]  # (chemical id, disease id), prefixed


def parse_pubtator(lines: Iterable[str], source: str = "pubtator") -> Iterator[GoldDoc]:
    """Documents in file order; mention text is checked against the document text (a shifted corpus fails loudly)."""
    block: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line.strip():
            block.append(line)
        elif block:
            yield _parse_block(block, source)
            block = []
    if block:
        yield _parse_block(block, source)


def _parse_block(block: Sequence[str], source: str) -> GoldDoc:
    pmid, title, abstract = "", "", ""
    mentions: list[Mention] = []
    pairs: set[tuple[str, str]] = set()
    for line in block:
        head = line.split("|", 2)
        if len(head) == 3 and head[1] in ("t", "a") and "\t" not in head[0]:
            pmid = head[0]
            if head[1] == "t":
                title = head[2]
            else:
                abstract = head[2]
            continue
        cols = line.split("\t")
        if len(cols) >= 4 and cols[1] == "CID":
            chem, dis = mesh_id(cols[2]), mesh_id(cols[3])
            if chem and dis:
                pairs.add((chem, dis))
        elif len(cols) >= 5:
            start, end = int(cols[1]), int(cols[2])
            concept = mesh_id(cols[5]) if len(cols) >= 6 else None
            mentions.append(Mention(start, end, cols[3], cols[4], concept_id=concept))
        else:
            raise ValueError(f"unreadable PubTator line: {line[:80]!r}")
    doc = from_title_abstract(pmid, title, abstract, source)
    text = doc.text
    for m in mentions:
        if text[m.start : m.end] != m.text:
            raise ValueError(f"{pmid}: mention {m.text!r} does not match the text at {m.start}..{m.end}")
    return GoldDoc(doc, mentions, pairs)


def read_pubtator(path: Path | str) -> list[GoldDoc]:
    with open(path, encoding="utf-8") as fh:
        return list(parse_pubtator(fh))


def _flat(s: str) -> str:
    # One record per line: a newline or tab inside a passage would break the format; both become a space of the
    # same length so offsets stay valid.
    return s.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def format_pubtator(
    document: Document,
    mentions: Sequence[Mention],
    relations: Iterable[Relation | tuple[str, str]] = (),
    *,
    bare_ids: bool = True,
) -> str:
    """One document block (ending in a blank line). Passages after the title all go into the `a` line, cut from
    `Document.text`, so every offset written is the offset the mention already has."""
    text = document.text
    first = document.passages[0] if document.passages else None
    title = first.text if first is not None and first.kind == "title" and first.offset == 0 else ""
    abstract = text[len(title) + 1 :] if title else text
    if not title and abstract:
        # No title passage: an empty title puts the abstract at offset 1, so keep everything on the `t` line.
        title, abstract = text, ""
    pmid = _flat(document.doc_id).replace("|", "_")
    out = [f"{pmid}|t|{_flat(title)}", f"{pmid}|a|{_flat(abstract)}"]
    for m in sorted(mentions, key=lambda m: (m.start, m.end)):
        ids = bare_id(m.concept_id) if bare_ids else (m.concept_id or "-1")
        out.append(f"{pmid}\t{m.start}\t{m.end}\t{_flat(m.text)}\t{m.type}\t{ids}")
    for r in relations:
        chem, dis = (r.chemical_id, r.disease_id) if isinstance(r, Relation) else r
        if bare_ids:
            chem, dis = bare_id(chem), bare_id(dis)
        out.append(f"{pmid}\tCID\t{chem}\t{dis}")
    return "\n".join(out) + "\n\n"


def write_pubtator(
    path: Path | str,
    records: Iterable[tuple[Document, Sequence[Mention], Iterable[Relation | tuple[str, str]]]],
    *,
    bare_ids: bool = True,
) -> int:
    """Write documents to `path`; returns how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for document, mentions, relations in records:
            fh.write(format_pubtator(document, mentions, relations, bare_ids=bare_ids))
            n += 1
    return n
