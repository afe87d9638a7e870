"""CID scoring on BC5CDR: the document-level (pmid, chemical, disease) set, as the BioCreative V task scored it.

Gold pairs whose entities a system never produced still count as misses, so normalization recall caps CID recall.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from workers.literature.documents import Document
from workers.literature.iob import PRF
from workers.literature.normalize import Lexicon
from workers.literature.normalize_eval import concept_set
from workers.literature.pubtator import GoldDoc, Mention, Relation, read_pubtator
from workers.literature.relation_features import split_sentences
from workers.literature.relations import CidModel, cooccurrence


def gold_pairs(gold: Sequence[GoldDoc]) -> set[tuple[str, str, str]]:
    return {(g.document.doc_id, c, d) for g in gold for c, d in g.pairs}


def score_relations(gold: Sequence[GoldDoc], predicted: Sequence[Sequence[Relation]]) -> dict[str, Any]:
    prf = PRF()
    pred = {(g.document.doc_id, r.chemical_id, r.disease_id) for g, rs in zip(gold, predicted, strict=True) for r in rs}
    prf.add(gold_pairs(gold), pred)
    return prf.as_dict()


def threshold_curve(scores: np.ndarray, keys: Sequence[tuple[str, str, str]], gold: set) -> dict[float, PRF]:
    """PRF at every cut 0.05, 0.06, ... 0.95 (pairs never proposed count as misses)."""
    out: dict[float, PRF] = {}
    for t in np.round(np.arange(0.05, 0.951, 0.01), 2):
        prf = PRF()
        prf.add(gold, {k for k, s in zip(keys, scores, strict=True) if s >= t})
        out[float(t)] = prf
    return out


def best_threshold(curves: Sequence[dict[float, PRF]]) -> float:
    """The cut with the best mean F1 over the given conditions (one curve each)."""
    return max(curves[0], key=lambda t: (sum(c[t].f1 for c in curves) / len(curves), -abs(t - 0.5)))


def normalized_entities(gold: Sequence[GoldDoc], lexicon: Lexicon) -> list[list[Mention]]:
    """Gold spans and types with ids from our lexicon instead of the gold ids (what the model sees behind a tagger)."""
    return [lexicon.normalize(g.document.text, [replace(m, concept_id=None) for m in g.mentions]) for g in gold]


def baselines(gold: Sequence[GoldDoc], entities: Sequence[list[Mention]]) -> dict[str, dict[str, Any]]:
    """Co-occurrence baselines: every pair in the document, every pair sharing a sentence."""
    out = {}
    for name, same in (("cooccurrence_document", False), ("cooccurrence_sentence", True)):
        preds = [cooccurrence(g.document, split_sentences(g.document), ms, same_sentence=same)
                 for g, ms in zip(gold, entities, strict=True)]  # fmt: skip
        out[name] = score_relations(gold, preds)
    return out


def evaluate_model(
    model: CidModel, gold: Sequence[GoldDoc], entities: Sequence[list[Mention]], threshold: float | None = None
) -> dict[str, Any]:
    preds = [model.predict(g.document, split_sentences(g.document), ms, threshold)
             for g, ms in zip(gold, entities, strict=True)]  # fmt: skip
    return score_relations(gold, preds)


def evaluate_end_to_end(
    dev_path: Path | str,
    predict_mentions: Callable[[Document], list[Mention]],
    *,
    lexicon: Lexicon | None = None,
    model: CidModel | None = None,
    sentences: Callable[[Document], list[tuple[int, int]]] = split_sentences,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Any tagger's mentions -> lexicon normalization (with abbreviations) -> CID model, against a PubTator gold
    file: document-level concept P/R/F1 (micro and per type) and CID P/R/F1."""
    lexicon = lexicon or Lexicon.load()
    model = model or CidModel.load()
    gold = read_pubtator(dev_path)
    concepts = {"Chemical": PRF(), "Disease": PRF()}
    predicted = []
    for g in gold:
        doc = g.document
        mentions = lexicon.normalize(doc.text, predict_mentions(doc))
        gs, ps = concept_set(doc.doc_id, g.mentions), concept_set(doc.doc_id, mentions)
        for kind, prf in concepts.items():
            prf.add({x for x in gs if x[1] == kind}, {x for x in ps if x[1] == kind})
        predicted.append(model.predict(doc, sentences(doc), mentions, threshold))
    micro = PRF(*(sum(getattr(p, f) for p in concepts.values()) for f in ("tp", "fp", "fn")))
    return {
        "documents": len(gold),
        "concepts": {"micro": micro.as_dict(), **{k: v.as_dict() for k, v in concepts.items()}},
        "cid": score_relations(gold, predicted),
    }
