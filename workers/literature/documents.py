"""The document model every literature input format parses into, and the offset convention every output keeps.

Offsets are character offsets into `Document.text`: the passages joined in order, each starting at its `offset`
(PubTator/BioC convention: title at 0, abstract at len(title) + 1). Entity offsets therefore line up with
PubTator and BioC exports without translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Passage:
    kind: str  # "title", "abstract", "text", or a BioC passage type
    offset: int  # where this passage starts in Document.text
    text: str


@dataclass
class Document:
    doc_id: str  # PMID for PubMed sources; the user's id (or the item index) otherwise
    passages: list[Passage]
    source: str  # pubmed-xml, medline, bioc-xml, bioc-json, text, jsonl, entrez
    meta: dict[str, Any] = field(default_factory=dict)  # journal, year, ... (JSON-safe)

    @property
    def text(self) -> str:
        out: list[str] = []
        end = 0
        for p in self.passages:
            out.append(" " * max(0, p.offset - end))
            out.append(p.text)
            end = max(end, p.offset) + len(p.text)
        return "".join(out)

    def to_payload(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "meta": self.meta,
            "passages": [{"kind": p.kind, "offset": p.offset, "text": p.text} for p in self.passages],
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Document:
        return cls(
            doc_id=str(payload["doc_id"]),
            source=payload.get("source", "text"),
            meta=dict(payload.get("meta") or {}),
            passages=[Passage(p["kind"], int(p["offset"]), p["text"]) for p in payload["passages"]],
        )


def from_title_abstract(doc_id: str, title: str, abstract: str, source: str, **meta: Any) -> Document:
    """PubTator layout: the abstract starts one character after the title."""
    passages = [Passage("title", 0, title)]
    if abstract:
        passages.append(Passage("abstract", len(title) + 1, abstract))
    return Document(doc_id, passages, source, dict(meta))
