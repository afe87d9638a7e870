"""Entity highlighting for the literature document page: which mentions get a mark, and each passage's text cut
into plain and marked segments.

Pure functions over the stored JSON (no database, no Jinja). The template only loops over the segments and
autoescaping turns every piece into text, so a document's own markup (`<script>` in an abstract) stays text.
Offsets are character offsets into the document text (passages joined at their offsets, see
workers/literature/documents.py); every passage is cut along its own text, so the segments of a passage always
join back to exactly that passage: no character lost or repeated, whatever the entities say.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

Entity = Mapping[str, Any]

ENTITY_TYPES = ("Chemical", "Disease", "Gene")
# A class per known type; anything else gets a neutral colour instead of a class built from stored text.
_TYPE_CLASS = {t: f"ent-{t.lower()}" for t in ENTITY_TYPES}
EVIDENCE_MAX_CHARS = 1000


class Segment(NamedTuple):
    text: str
    entity: Entity | None  # the mention shown on this text, or None for plain text


@dataclass(frozen=True)
class PassageView:
    kind: str  # title, abstract, text, or a BioC passage type
    offset: int
    segments: list[Segment]


def _offsets(entity: object) -> tuple[int, int] | None:
    """The mention's [start, end) when both are integers and it is not empty, else None."""
    if not isinstance(entity, Mapping):
        return None
    start, end = entity.get("start"), entity.get("end")
    # type() rather than isinstance: a JSON true must not pass as offset 1.
    if type(start) is not int or type(end) is not int or not 0 <= start < end:
        return None
    return start, end


def _span(entity: object, limit: int) -> tuple[int, int] | None:
    """As _offsets, and only inside a text of `limit` characters."""
    span = _offsets(entity)
    return span if span is not None and span[1] <= limit else None


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _score(entity: Entity) -> float:
    return _number(entity.get("score")) or 0.0


def visible_entities(entities: Sequence[object], text_length: int) -> list[Entity]:
    """The mentions to mark, in text order, none overlapping another.

    Where mentions overlap or nest, the longer one is kept (a tagger and a lexicon often both mark "lithium" inside
    "lithium carbonate"); ties go to the earlier, then the higher-scored, then the first listed. Mentions outside
    the text or with broken offsets are left out here; the mention table still lists what the export holds.
    """
    candidates = []
    for position, entity in enumerate(entities):
        span = _span(entity, text_length)
        if span is not None:
            assert isinstance(entity, Mapping)
            candidates.append((span, position, entity))
    candidates.sort(key=lambda c: (c[0][0] - c[0][1], c[0][0], -_score(c[2]), c[1]))
    starts: list[int] = []  # the kept spans, sorted and disjoint: one bisect finds the only possible neighbours
    ends: list[int] = []
    kept: list[tuple[int, Entity]] = []
    for (start, end), _, entity in candidates:
        at = bisect.bisect_left(starts, start)
        if at < len(starts) and starts[at] < end:
            continue  # a kept span starts inside this one
        if at > 0 and ends[at - 1] > start:
            continue  # the kept span before this one reaches into it
        starts.insert(at, start)
        ends.insert(at, end)
        kept.append((start, entity))
    kept.sort(key=lambda k: k[0])
    return [entity for _, entity in kept]


def segments(text: str, offset: int, marks: Sequence[Entity]) -> list[Segment]:
    """`text` (which starts at `offset` in the document) cut at the given marks, clipped to the text.

    `marks` must be disjoint and in order (visible_entities gives that). A mark reaching past either end of the
    text is cut at the edge, so a mention crossing a passage boundary shows in both passages. Empty plain pieces
    are not emitted; the segments' texts always join to `text`.
    """
    out: list[Segment] = []
    cursor = 0  # in text's own coordinates
    for entity in marks:
        span = _offsets(entity)  # validated again: callers may pass raw lists
        if span is None:
            continue
        start = max(span[0] - offset, cursor)
        end = min(span[1] - offset, len(text))
        if start >= end:
            continue  # before the cursor (out of order or overlapping) or outside this text
        if start > cursor:
            out.append(Segment(text[cursor:start], None))
        out.append(Segment(text[start:end], entity))
        cursor = end
    if cursor < len(text):
        out.append(Segment(text[cursor:], None))
    return out


def _passage(raw: object) -> tuple[str, int, str] | None:
    if not isinstance(raw, Mapping):
        return None
    kind, offset, text = raw.get("kind"), raw.get("offset"), raw.get("text")
    if type(offset) is not int or offset < 0 or not isinstance(text, str):
        return None
    return (kind if isinstance(kind, str) and kind else "text"), offset, text


def document_text(passages: Sequence[object]) -> str:
    """The document text the offsets point into: as workers/literature/documents.py Document.text builds it."""
    from workers.literature.documents import Document, Passage

    parts = [p for p in map(_passage, passages) if p is not None]
    return Document("", [Passage(kind, offset, text) for kind, offset, text in parts], "").text


def passage_views(passages: Sequence[object], marks: Sequence[Entity]) -> list[PassageView]:
    """Every passage with its text cut at the marks that fall inside it."""
    views = []
    for parsed in map(_passage, passages):
        if parsed is not None:
            kind, offset, text = parsed
            views.append(PassageView(kind, offset, segments(text, offset, marks)))
    return views


def entity_class(entity: Entity) -> str:
    """The mark's CSS class: one per known type; chemicals and diseases without a MeSH id are drawn dashed."""
    kind = str(entity.get("type"))
    css = _TYPE_CLASS.get(kind, "ent-other")
    return css if entity.get("concept_id") or kind == "Gene" else css + " no-id"


def entity_title(entity: Entity) -> str:
    """The mark's tooltip: "Chemical · MESH:D008094 · Lithium · 0.982" (or "no MeSH id" in the id's place)."""
    parts = [str(entity.get("type") or "?"), str(entity.get("concept_id") or "no MeSH id")]
    if entity.get("concept_name"):
        parts.append(str(entity["concept_name"]))
    score = _number(entity.get("score"))
    if score is not None:
        parts.append(f"{score:.3f}")
    return " · ".join(parts)


def evidence_span(text: str, evidence: object) -> tuple[int, int] | None:
    """A relation's evidence [start, end] as a span inside `text`, or None when absent or out of range."""
    if not isinstance(evidence, list | tuple) or len(evidence) != 2:
        return None
    return _span({"start": evidence[0], "end": evidence[1]}, len(text))


def evidence_segments(text: str, evidence: object, marks: Sequence[Entity]) -> list[Segment]:
    """The evidence sentence cut from the document text, its mentions marked; [] when there is none."""
    span = evidence_span(text, evidence)
    if span is None:
        return []
    start, end = span[0], min(span[1], span[0] + EVIDENCE_MAX_CHARS)
    cut = segments(text[start:end], start, marks)
    if end < span[1]:
        cut.append(Segment("…", None))
    return cut


@dataclass(frozen=True)
class RelationView:
    chemical: str  # the concept's name where known, else the mention text
    chemical_id: str
    disease: str
    disease_id: str
    score: float | None
    evidence: list[Segment]  # [] when the relation carries no usable evidence span


@dataclass(frozen=True)
class DocumentView:
    passages: list[PassageView]
    marked: int  # mentions shown as a mark
    hidden: int  # mentions not marked: overlapped by a longer one, or offsets outside the text
    type_counts: dict[str, int]  # every stored mention, by type
    relations: list[RelationView]  # strongest first
    mentions: list[tuple[Entity, bool]]  # every mention in text order, with whether it is marked


def _relation(raw: Mapping[str, Any], names: Mapping[str, str], text: str, marks: Sequence[Entity]) -> RelationView:
    chemical_id, disease_id = str(raw.get("chemical_id") or ""), str(raw.get("disease_id") or "")
    return RelationView(
        chemical=str(raw.get("chemical_name") or names.get(chemical_id) or raw.get("chemical_text") or chemical_id),
        chemical_id=chemical_id,
        disease=str(raw.get("disease_name") or names.get(disease_id) or raw.get("disease_text") or disease_id),
        disease_id=disease_id,
        score=_number(raw.get("score")),
        evidence=evidence_segments(text, raw.get("evidence"), marks),
    )


def document_view(passages: Sequence[object], entities: Sequence[object], relations: Sequence[object]) -> DocumentView:
    """Everything the document page shows, from a result row's three JSON columns."""
    text = document_text(passages)
    entity_list = [e for e in entities if isinstance(e, Mapping)]
    marks = visible_entities(entity_list, len(text))
    marked_ids = {id(e) for e in marks}
    names = {
        str(e["concept_id"]): str(e["concept_name"])
        for e in entity_list
        if e.get("concept_id") and e.get("concept_name")
    }
    counts = {t: sum(1 for e in entity_list if e.get("type") == t) for t in ENTITY_TYPES}
    rels = [_relation(r, names, text, marks) for r in relations if isinstance(r, Mapping)]
    rels.sort(key=lambda r: -(r.score or 0.0))

    def order(e: Entity) -> tuple[int, int]:
        span = _offsets(e)
        return span if span is not None else (-1, -1)

    return DocumentView(
        passages=passage_views(passages, marks),
        marked=len(marks),
        hidden=len(entity_list) - len(marks),
        type_counts=counts,
        relations=rels,
        mentions=[(e, id(e) in marked_ids) for e in sorted(entity_list, key=order)],
    )
