"""The CID model's second stage: document-context features and how CidModel uses them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workers.literature.relation_context import FEATURES, LIKELY, context_features
from workers.literature.relations import CidModel

COL = {name: i for i, name in enumerate(FEATURES)}


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_features_compare_a_pair_with_its_document() -> None:
    # Two documents, rows interleaved: grouping is by key, not by position.
    keys = [("a", "C1", "D1"), ("b", "C9", "D9"), ("a", "C2", "D1"), ("a", "C1", "D2")]
    p = np.array([0.8, 0.1, 0.5, 0.2])
    f = context_features(keys, p)
    assert f.shape == (4, len(FEATURES))
    assert f[0, COL["ctx_logit"]] == pytest.approx(_logit(0.8))
    # Best of document a: gap 0, rank 0, best of its chemical and disease.
    assert f[0, COL["ctx_gap_doc"]] == 0 and f[0, COL["ctx_rank"]] == 0 and f[0, COL["ctx_best_doc"]] == 1
    assert f[0, COL["ctx_best_chemical"]] == 1 and f[0, COL["ctx_best_disease"]] == 1
    # C2-D1 ranks second; D1 already has a better chemical (C1), but it is C2's best pair.
    assert f[2, COL["ctx_rank"]] == pytest.approx(0.1)
    assert f[2, COL["ctx_gap_disease"]] == pytest.approx(_logit(0.5) - _logit(0.8))
    assert f[2, COL["ctx_best_disease"]] == 0 and f[2, COL["ctx_best_chemical"]] == 1
    # C1-D2: below C1's best pair, the only pair of D2.
    assert f[3, COL["ctx_gap_chemical"]] == pytest.approx(_logit(0.2) - _logit(0.8))
    assert f[3, COL["ctx_best_disease"]] == 1
    # Document a has two pairs at or above LIKELY; document b, alone, has none and is its own best.
    assert LIKELY <= 0.5
    assert f[0, COL["ctx_n_likely"]] == pytest.approx(math.log1p(2)) and f[0, COL["ctx_none_likely"]] == 0
    assert f[1, COL["ctx_none_likely"]] == 1 and f[1, COL["ctx_best_doc"]] == 1
    assert f[1, COL["ctx_n_pairs"]] == pytest.approx(math.log1p(1))


def _spec(n: int, context: dict | None) -> dict:
    """A one-feature model: logistic weight 1 on the feature, no trees."""
    return {
        "format": "medsieve-cid",
        "features": ["f"],
        "threshold": 0.5,
        "logistic": {"weights": [1.0] * n, "bias": 0.0, "mean": [0.0] * n, "scale": [1.0] * n},
        **({"context": context} if context else {}),
    }


def test_second_stage_reads_the_document() -> None:
    x = np.array([[2.0], [1.0], [-1.0]])
    keys = [("a", "C1", "D1"), ("a", "C2", "D1"), ("b", "C1", "D1")]
    first = CidModel(_spec(1, None))
    p1 = first.probabilities(x, keys)
    assert np.allclose(p1, 1 / (1 + np.exp(-x[:, 0])))  # no context block: the first stage's probability
    n = 1 + len(FEATURES)
    weights = [0.0] * n
    weights[1 + COL["ctx_best_doc"]] = 4.0  # the second stage only rewards a document's best pair
    ctx = {"features": list(FEATURES), "logistic": {"weights": weights, "bias": -2.0, "mean": [0.0] * n,
                                                    "scale": [1.0] * n}}  # fmt: skip
    p2 = CidModel({**_spec(1, None), "context": ctx}).probabilities(x, keys)
    # Row 2 is its document's best although its first-stage score is the lowest.
    assert p2[0] == pytest.approx(p2[2]) and p2[0] > 0.8 > 0.2 > p2[1]


def test_context_features_must_match_the_code() -> None:
    n = 1 + len(FEATURES)
    block = {"features": [*FEATURES[:-1], "something_else"],
             "logistic": {"weights": [0.0] * n, "bias": 0.0, "mean": [0.0] * n, "scale": [1.0] * n}}  # fmt: skip
    with pytest.raises(ValueError, match="context features"):
        CidModel({**_spec(1, None), "context": block})
