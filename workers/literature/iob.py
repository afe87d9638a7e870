"""IOB corpora (token<TAB>tag, blank line between sentences) and strict mention-level scoring.

The training sets each annotate only some entity types (BC2GM genes, NCBI-disease diseases, BC5CDR chemicals and
diseases), so every sentence carries the set of types its corpus annotates; the trainer uses it to avoid teaching
"O" for types the corpus never looked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ENTITY_TYPES = ("Chemical", "Disease", "Gene")
LABELS = ("O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease", "B-Gene", "I-Gene")
# Corpus tag spellings -> our type names.
_TYPE_ALIASES = {"chemical": "Chemical", "disease": "Disease", "gene": "Gene", "protein": "Gene"}


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str]
    annotated: frozenset[str] = field(default_factory=lambda: frozenset(ENTITY_TYPES))


def normalize_tag(tag: str) -> str:
    if tag == "O" or "-" not in tag:
        return "O"
    prefix, kind = tag.split("-", 1)
    return f"{prefix}-{_TYPE_ALIASES.get(kind.lower(), kind)}"


def read_iob(path: Path | str, annotated: Iterable[str] | None = None) -> list[Sentence]:
    """Read one IOB file; `annotated` defaults to the types that occur in it."""
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line.strip():
                if tokens:
                    sentences.append(Sentence(tokens, tags))
                    tokens, tags = [], []
                continue
            token, _, tag = line.partition("\t")
            tokens.append(token)
            tags.append(normalize_tag(tag.strip() or "O"))
    if tokens:
        sentences.append(Sentence(tokens, tags))
    types = (
        frozenset(annotated)
        if annotated is not None
        else frozenset(tag[2:] for s in sentences for tag in s.tags if tag != "O")
    )
    for s in sentences:
        s.annotated = types
    return sentences


def spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """(start, end_exclusive, type) token spans; a stray I- opens a mention, as conlleval does."""
    out: set[tuple[int, int, str]] = set()
    start, kind = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, t = tag.partition("-")
        continues = prefix == "I" and t == kind and start >= 0
        if start >= 0 and not continues:
            out.add((start, i, kind))
            start, kind = -1, ""
        if prefix in ("B", "I") and not continues:
            start, kind = i, t
    return out


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.fp += len(pred - gold)
        self.fn += len(gold - pred)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def strict_report(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], types: Iterable[str]
) -> dict[str, dict[str, float | int]]:
    """Exact-boundary, exact-type mention P/R/F1 per type plus their micro average."""
    wanted = tuple(types)
    per = {t: PRF() for t in wanted}
    for g_tags, p_tags in zip(gold, pred, strict=True):
        g, p = spans(g_tags), spans(p_tags)
        for t in wanted:
            per[t].add({s for s in g if s[2] == t}, {s for s in p if s[2] == t})
    micro = PRF(sum(m.tp for m in per.values()), sum(m.fp for m in per.values()), sum(m.fn for m in per.values()))
    return {**{t: m.as_dict() for t, m in per.items()}, "micro": micro.as_dict()}
