"""Document-context features for the CID model's second stage: how a pair's first-stage score compares with the
other pairs of its document.

Why: the first stage scores each (chemical, disease) pair alone, but BC5CDR's relations compete. An abstract
usually reports one or two inducing chemicals. A disease induced by one chemical is rarely also credited to the
co-medication scored just below it. And the best pair of an abstract is a relation far more often than its score
alone says, since every BC5CDR abstract has at least one. A second model reads the first-stage features plus these,
computed from first-stage scores (out-of-fold scores in training, so they are as noisy as at inference). On BC5CDR
development, end to end, it added about one point of F1 (see the card).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

FEATURES = (
    "ctx_logit",  # the pair's own first-stage logit
    "ctx_gap_doc",  # logit minus the best logit of the document
    "ctx_rank",  # rank in the document (0 = best), capped at 10, / 10
    "ctx_best_doc",  # the best pair of the document
    "ctx_gap_chemical",  # logit minus the best logit among pairs with the same chemical
    "ctx_gap_disease",  # ... with the same disease
    "ctx_best_chemical",  # the best pair of its chemical
    "ctx_best_disease",  # the best pair of its disease
    "ctx_n_likely",  # log1p(pairs in the document with first-stage p >= LIKELY)
    "ctx_n_pairs",  # log1p(candidate pairs in the document)
    "ctx_none_likely",  # no pair in the document reaches LIKELY
)
LIKELY = 0.35  # the first stage's own tuned threshold (BC5CDR development)
_EPS = 1e-6


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def context_features(keys: Sequence[tuple[Hashable, str, str]], p: np.ndarray) -> np.ndarray:
    """One row of FEATURES per candidate. `keys` are (document, chemical, disease) per row; rows of one document
    need not be adjacent."""
    out = np.zeros((len(keys), len(FEATURES)), dtype=np.float64)
    docs: dict[Hashable, list[int]] = defaultdict(list)
    for i, (doc, _, _) in enumerate(keys):
        docs[doc].append(i)
    for rows in docs.values():
        z = [_logit(float(p[i])) for i in rows]
        best_c: dict[str, float] = {}
        best_d: dict[str, float] = {}
        for i, zi in zip(rows, z, strict=True):
            _, c, d = keys[i]
            best_c[c] = max(best_c.get(c, -math.inf), zi)
            best_d[d] = max(best_d.get(d, -math.inf), zi)
        top = max(z)
        order = sorted(range(len(rows)), key=lambda j: -z[j])
        rank = {rows[j]: r for r, j in enumerate(order)}
        n_likely = sum(float(p[i]) >= LIKELY for i in rows)
        for i, zi in zip(rows, z, strict=True):
            _, c, d = keys[i]
            out[i] = (
                zi,
                zi - top,
                min(rank[i], 10) / 10.0,
                float(rank[i] == 0),
                zi - best_c[c],
                zi - best_d[d],
                float(zi >= best_c[c]),
                float(zi >= best_d[d]),
                math.log1p(n_likely),
                math.log1p(len(rows)),
                float(n_likely == 0),
            )
    return out
