"""Chemical-induced disease (CID) relations per document, from normalized mentions (numpy only at inference).

`CidModel` scores every (chemical concept, disease concept) pair of a document with the features of
`relation_features`: the mean probability of a logistic regression and of boosted depth-3 trees (each alone scored
lower on development, see the card). A second stage of the same two parts re-scores each pair with its document's
context (`relation_context`: how its first-stage score compares with the other pairs'). Feature names, weights,
trees, standardization, priors and the tuned threshold live in one JSON file (`models/cid/cid.json`), never a
pickle. The co-occurrence baselines are here too, for comparison.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workers.literature.documents import Document
from workers.literature.pubtator import Mention, Relation
from workers.literature.relation_boost import PackedTrees
from workers.literature.relation_context import FEATURES as CONTEXT_FEATURES
from workers.literature.relation_context import context_features
from workers.literature.relation_features import Candidate, candidates, group_mentions
from workers.literature.relation_lexical import LexicalScorer

DEFAULT_PATH = Path(__file__).parent / "models" / "cid" / "cid.json"
_cache: dict[Path, CidModel] = {}
_lock = threading.Lock()


def _default_tree_numbers() -> Callable[[str], Sequence[str]]:
    from workers.literature.normalize import Lexicon

    return Lexicon.load().trees


class Stage:
    """Probability = mean of the parts a spec block holds: a logistic regression and/or boosted trees."""

    def __init__(self, block: dict[str, Any], n_features: int) -> None:
        self.logistic: dict[str, np.ndarray] | None = None
        if block.get("logistic"):
            lr = block["logistic"]
            self.logistic = {k: np.asarray(lr[k], dtype=np.float64) for k in ("weights", "mean", "scale")}
            self.logistic["bias"] = np.asarray(float(lr["bias"]))
            if not all(len(self.logistic[k]) == n_features for k in ("weights", "mean", "scale")):
                raise ValueError("model file: logistic weights and features differ in length")
        self.boosted: dict[str, Any] | None = block.get("boosted") or None
        self._packed = PackedTrees(self.boosted["trees"]) if self.boosted else None
        if self.logistic is None and self.boosted is None:
            raise ValueError("model file holds neither a logistic nor a boosted model")

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        parts: list[np.ndarray] = []
        if self.logistic is not None:
            lr = self.logistic
            z = ((x - lr["mean"]) / lr["scale"]) @ lr["weights"] + float(lr["bias"])
            parts.append(_sigmoid(z))
        if self._packed is not None and self.boosted is not None:
            parts.append(_sigmoid(self._packed.margin(float(self.boosted["base"]), x)))
        return np.mean(parts, axis=0)


class CidModel:
    """First stage: the spec's own logistic/boosted parts over the pair features. Second stage (when the spec has a
    "context" block): the same kind of parts over the pair features plus `relation_context`'s document-context
    features of the first-stage scores; its probability is the model's."""

    def __init__(
        self, spec: dict[str, Any], tree_numbers: Callable[[str], Sequence[str]] | None = None, sha256: str = ""
    ) -> None:
        if spec.get("format") != "medsieve-cid":
            raise ValueError("not a medsieve CID model file")
        self.spec = spec
        self.version = str(spec.get("version", 1))
        self.sha256 = sha256  # of the file it was loaded from; "" when built in memory
        self.features: list[str] = list(spec["features"])
        self.threshold = float(spec["threshold"])
        self.priors: dict[str, dict[str, list[int]]] = spec.get("priors", {})
        self.first = Stage(spec, len(self.features))
        self.context: Stage | None = None
        if spec.get("context"):
            names = list(spec["context"]["features"])
            if names != list(CONTEXT_FEATURES):
                raise ValueError("model file: context features differ from this code's")
            self.context = Stage(spec["context"], len(self.features) + len(names))
        self._tree_numbers = tree_numbers
        # Sentence-level lexical scorer (model files before it have none: their features never name its outputs).
        self.lexical = LexicalScorer(spec["lexical"]) if spec.get("lexical") else None

    @classmethod
    def load(cls, path: Path | str | None = None) -> CidModel:
        """The model at `path` (None: the shipped one), parsed once per process."""
        key = Path(path or DEFAULT_PATH).resolve()
        with _lock:
            if key not in _cache:
                raw = key.read_bytes()
                _cache[key] = cls(json.loads(raw), sha256=hashlib.sha256(raw).hexdigest())
            return _cache[key]

    @property
    def tree_numbers(self) -> Callable[[str], Sequence[str]]:
        if self._tree_numbers is None:
            self._tree_numbers = _default_tree_numbers()
        return self._tree_numbers

    def vectorize(self, cands: Sequence[Candidate]) -> np.ndarray:
        x = np.zeros((len(cands), len(self.features)), dtype=np.float64)
        for i, cand in enumerate(cands):
            x[i] = [cand.features.get(name, 0.0) for name in self.features]
        return x

    def probabilities(self, x: np.ndarray, keys: Sequence[tuple[Hashable, str, str]]) -> np.ndarray:
        """P(CID) per row of `x`; `keys` are the rows' (document, chemical, disease), which the second stage
        groups by document."""
        p = self.first.probabilities(x)
        if self.context is None or not len(x):
            return p
        return self.context.probabilities(np.hstack([x, context_features(keys, p)]))

    def candidates(self, doc: Document, sentences: Sequence[tuple[int, int]], mentions: Sequence[Mention]):
        return candidates(doc, sentences, mentions, self.priors, self.tree_numbers, self.lexical)

    def predict(
        self,
        doc: Document,
        sentences: Sequence[tuple[int, int]],
        mentions: Sequence[Mention],
        threshold: float | None = None,
    ) -> list[Relation]:
        """Relations scoring at least `threshold` (default: the one tuned on BC5CDR development), best first."""
        cut = self.threshold if threshold is None else threshold
        cands = self.candidates(doc, sentences, mentions)
        if not cands:
            return []
        keys = [(doc.doc_id, c.chemical.cid, c.disease.cid) for c in cands]
        scores = self.probabilities(self.vectorize(cands), keys)
        out = [_relation(c, float(p)) for c, p in zip(cands, scores, strict=True) if p >= cut]
        return sorted(out, key=lambda r: -r.score)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def _relation(cand: Candidate, score: float) -> Relation:
    return Relation(
        chemical_id=cand.chemical.cid,
        disease_id=cand.disease.cid,
        score=score,
        evidence=cand.evidence,
        chemical_text=cand.chemical.mentions[0].text,
        disease_text=cand.disease.mentions[0].text,
    )


def cooccurrence(
    doc: Document, sentences: Sequence[tuple[int, int]], mentions: Sequence[Mention], *, same_sentence: bool
) -> list[Relation]:
    """Baseline: every chemical-disease concept pair in the document (or in one sentence), score 1."""
    groups = group_mentions([m for m in mentions if m.type in ("Chemical", "Disease")])
    chems = {cid: ms for (kind, cid), ms in groups.items() if kind == "Chemical"}
    diss = {cid: ms for (kind, cid), ms in groups.items() if kind == "Disease"}

    def sentence_of(m: Mention) -> int:
        for i, (s, e) in enumerate(sentences):
            if s <= m.start < e:
                return i
        return -1

    out: list[Relation] = []
    for c, cms in chems.items():
        c_sents = {sentence_of(m) for m in cms}
        for d, dms in diss.items():
            shared = sorted(c_sents & {sentence_of(m) for m in dms} - {-1})
            if same_sentence and not shared:
                continue
            evidence = sentences[shared[0]] if shared else None
            out.append(Relation(c, d, 1.0, evidence, cms[0].text, dms[0].text))
    return out
