"""Sentence-level lexical evidence for CID pairs: a sparse logistic regression over the words of each sentence that
holds both concepts, scored per sentence and pooled per pair (max, mean) into features of `relation_features`.

Why: the hand-written cue regexes see "induced" or "treat" but not the thousands of other phrasings ("developed ...
after", "... in patients receiving ..."). Per sentence, the closest mention pair gives the context:
- the words between the two mentions (other mentions there replaced by `xchem` / `xdis`), their bigrams and the words
  paired with the order (chemical first or disease first); only the first and last 4 when more than 12 words apart;
- 3 words left of the first mention and right of the second, and the words of the whole sentence;
- the title flag and how many other mentions lie between them.
On BC5CDR development it raised CID F1 with gold entities from 0.635 to 0.648 and end to end from 0.524 to 0.538.

Inference is a dictionary of weights (no numpy): a context's score is the bias plus the weights of its tokens.
Training (`fit_lexical`) needs scikit-learn; a token seen fewer than `MIN_COUNT` times in training is not kept.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from workers.literature.pubtator import Mention, id_parts

_WORD = re.compile(r"[a-z]+|\d+|[^\w\s]")
MIN_COUNT = 2
# Inverse L2 strength: 0.03, 0.1, 0.3 and 1 gave end-to-end CID F1 0.537, 0.536, 0.532, 0.533 (a hashed-feature
# prototype without the title and between-count tokens).
C = 0.1
NO_SENTENCE = -5.0  # feature value for a pair that never shares a sentence (a strongly negative logit)
FEATURES = ("lex_max", "lex_mean", "lex_any")
Pair = tuple[str, str]


def _words(text: str) -> list[str]:
    return ["0" if w.isdigit() else w for w in _WORD.findall(text.lower())]


def contexts(
    text: str, sentences: Sequence[tuple[int, int]], mentions: Sequence[Mention]
) -> dict[Pair, list[list[str]]]:
    """(chemical id, disease id) -> one token list per sentence holding both (their closest mentions there)."""
    starts = [s for s, _ in sentences]
    by_sentence: dict[int, list[Mention]] = {}
    for m in mentions:
        if m.type in ("Chemical", "Disease") and m.concept_id:
            by_sentence.setdefault(max(0, bisect.bisect_right(starts, m.start) - 1), []).append(m)
    out: dict[Pair, list[list[str]]] = {}
    for i, ms in by_sentence.items():
        closest: dict[Pair, tuple[int, Mention, Mention]] = {}
        for a in (m for m in ms if m.type == "Chemical"):
            for b in (m for m in ms if m.type == "Disease"):
                dist = abs(a.start - b.start)
                for pair in ((c, d) for c in id_parts(a.concept_id) for d in id_parts(b.concept_id)):
                    if pair not in closest or dist < closest[pair][0]:
                        closest[pair] = (dist, a, b)
        for pair, (_, chem, dis) in closest.items():
            out.setdefault(pair, []).append(_tokens(text, sentences[i], i == 0, ms, chem, dis))
    return out


def _tokens(
    text: str, sentence: tuple[int, int], title: bool, ms: Sequence[Mention], chem: Mention, dis: Mention
) -> list[str]:
    s, e = sentence
    first, second = (chem, dis) if chem.start < dis.start else (dis, chem)
    inside = [m for m in ms if first.end <= m.start and m.end <= second.start]
    between = text[first.end : second.start]
    for m in sorted(inside, key=lambda m: -m.start):  # right to left keeps the earlier offsets valid
        lo, hi = m.start - first.end, m.end - first.end
        between = between[:lo] + (" xchem " if m.type == "Chemical" else " xdis ") + between[hi:]
    bw = _words(between)
    left, right = _words(text[s : first.start])[-3:], _words(text[second.end : e])[:3]
    order = "cd" if chem.start < dis.start else "dc"
    toks = [f"O:{order}", f"N:{min(len(bw), 12) // 3}"]
    if len(bw) <= 12:
        toks += [f"B:{w}" for w in bw] + [f"BB:{x}_{y}" for x, y in pairwise(bw)]
        toks += [f"BO:{order}:{w}" for w in bw]
    else:
        toks += [f"BF:{w}" for w in bw[:4] + bw[-4:]]
    toks += [f"L:{w}" for w in left] + [f"R:{w}" for w in right]
    toks += [f"L1:{left[-1] if left else '^'}", f"R1:{right[0] if right else '$'}"]
    toks += [f"S:{w}" for w in sorted(set(_words(text[s:e])))]
    if title:
        toks.append("TITLE")
    toks.append(f"NB:{min(len(inside), 3)}")
    return toks


class LexicalScorer:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.weights: dict[str, float] = dict(spec["weights"])
        self.bias = float(spec["bias"])

    def score(self, tokens: Iterable[str]) -> float:
        """The logit of one context (tokens are counted as often as they occur, as in training)."""
        w = self.weights
        return self.bias + sum(w.get(t, 0.0) for t in tokens)

    def features(self, pair_contexts: Sequence[Sequence[str]] | None) -> dict[str, float]:
        if not pair_contexts:
            return {"lex_max": NO_SENTENCE, "lex_mean": NO_SENTENCE, "lex_any": 0.0}
        z = [self.score(t) for t in pair_contexts]
        return {"lex_max": max(z), "lex_mean": sum(z) / len(z), "lex_any": 1.0}


def fit_lexical(rows: Iterable[tuple[Sequence[str], bool]], c: float = C, min_count: int = MIN_COUNT) -> dict[str, Any]:
    """The scorer's spec from (context tokens, is the pair a CID relation of its document) rows."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    data = list(rows)
    if not data or len({y for _, y in data}) < 2:
        raise ValueError("lexical scorer: training needs positive and negative sentences")
    counts = Counter(t for toks, _ in data for t in toks)
    vocab = {t: i for i, t in enumerate(sorted(t for t, n in counts.items() if n >= min_count))}
    indptr: list[int] = [0]
    indices: list[int] = []
    for toks, _ in data:
        indices.extend(vocab[t] for t in toks if t in vocab)
        indptr.append(len(indices))
    x = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(data), len(vocab)))
    x.sum_duplicates()
    clf = LogisticRegression(C=c, max_iter=3000)
    clf.fit(x, np.asarray([y for _, y in data], dtype=np.int64))
    coef = clf.coef_[0]
    weights = {t: round(float(coef[i]), 5) for t, i in vocab.items() if abs(coef[i]) >= 5e-6}
    return {"weights": weights, "bias": round(float(clf.intercept_[0]), 5), "c": c, "min_count": min_count,
            "rows": len(data)}  # fmt: skip


def training_rows(
    docs: Iterable[tuple[Any, Sequence[tuple[int, int]], Sequence[Mention], set[Pair]]],
) -> list[tuple[list[str], bool]]:
    """(document, sentences, mentions, gold pairs) -> one row per sentence context of every candidate pair."""
    return [
        (toks, pair in pairs)
        for doc, sentences, mentions, pairs in docs
        for pair, lists in contexts(doc.text, sentences, mentions).items()
        for toks in lists
    ]
