"""Exact metric and threshold arithmetic on small hand-checkable inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workers.triage.model.evaluate import (
    operating_point,
    roc_auc,
    threshold_for_sensitivity,
    threshold_for_specificity,
)
from workers.triage.model.export import choose_thresholds
from workers.triage.model.manifest import Thresholds
from workers.triage.model.train import TrainConfig


def test_roc_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200), 1)  # coarse scores: many ties
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(labels, scores) == pytest.approx(pairs / (len(pos) * len(neg)), abs=1e-12)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    with pytest.raises(ValueError, match="positive and one negative"):
        roc_auc([1, 1], [0.1, 0.2])


def test_thresholds_meet_their_targets_exactly() -> None:
    labels = np.array([0] * 10 + [1] * 10)
    # float32 scores like the runtime's: the threshold must still exclude the negative it sits above.
    scores = np.r_[np.linspace(0.0, 0.9, 10), np.linspace(0.35, 1.0, 10)].astype(np.float32)
    t_spec = threshold_for_specificity(labels, scores, 0.9)
    point = operating_point(labels, scores, t_spec)
    assert point["specificity"] == pytest.approx(0.9)  # 9 of 10 negatives below, not 8
    assert t_spec > float(scores[8]) and t_spec < float(scores[9])
    t_sens = threshold_for_sensitivity(labels, scores, 0.8)
    assert operating_point(labels, scores, t_sens)["sensitivity"] == pytest.approx(0.8)
    assert t_sens == pytest.approx(float(scores[12]))


def test_medium_is_capped_at_high_when_targets_cross() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])  # separable: 98% spec needs t > 0.4
    cfg = TrainConfig(high_specificity=0.98, medium_sensitivity=0.5)
    th = choose_thresholds(labels, scores, cfg)
    assert th.medium == th.high and 0.4 < th.high <= 0.6
    assert th["high"] == th.high
    with pytest.raises(KeyError):
        th["low"]
    with pytest.raises(ValueError, match="must not exceed high"):
        Thresholds(high=0.2, medium=0.3)
