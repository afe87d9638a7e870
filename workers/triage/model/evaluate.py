"""Metrics for a binary triage score: exact rank AUC, operating points, and evaluation on a MedMNIST npz split."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from workers.triage.model.runtime import TriageModel

SPLITS = ("train", "val", "test")


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic; tied scores get average ranks (count half)."""
    y = np.asarray(labels).ravel().astype(bool)
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative label")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty_like(s)
    # Average rank for each run of equal scores.
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def threshold_for_specificity(labels: np.ndarray, scores: np.ndarray, specificity: float) -> float:
    """Lowest threshold (score >= t is positive) whose specificity on these labels is at least `specificity`."""
    neg = np.sort(np.asarray(scores, dtype=np.float64)[~np.asarray(labels).ravel().astype(bool)])
    if len(neg) == 0:
        raise ValueError("no negative labels")
    # ceil(spec * n) negatives must fall below t; t sits just above the last of them.
    k = int(np.ceil(specificity * len(neg) - 1e-9))
    if k <= 0:
        return float(neg[0])
    return float(np.nextafter(neg[k - 1], np.inf))


def threshold_for_sensitivity(labels: np.ndarray, scores: np.ndarray, sensitivity: float) -> float:
    """Highest threshold (score >= t is positive) whose sensitivity on these labels is at least `sensitivity`."""
    pos = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels).ravel().astype(bool)])[::-1]
    if len(pos) == 0:
        raise ValueError("no positive labels")
    k = int(np.ceil(sensitivity * len(pos) - 1e-9))
    return float(pos[max(k, 1) - 1])


def operating_point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(labels).ravel().astype(bool)
    # Compare in float64: numpy would otherwise round a Python-float threshold to float32 scores' precision and
    # flag the very score the threshold was placed just above.
    flagged = np.asarray(scores, dtype=np.float64).ravel() >= threshold
    return {
        "threshold": float(threshold),
        "sensitivity": float(flagged[y].mean()) if y.any() else float("nan"),
        "specificity": float((~flagged[~y]).mean()) if (~y).any() else float("nan"),
        "accuracy": float((flagged == y).mean()),
    }


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """AUC plus accuracy at `threshold` (0.5, as MedMNIST reports it)."""
    y = np.asarray(labels).ravel().astype(bool)
    s = np.asarray(scores).ravel()
    return {"auc": roc_auc(y, s), "accuracy": float(((s >= threshold) == y).mean()), "n": len(y)}


def load_split(npz_path: Path | str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 in [0,1] (N,H,W) and labels as int64 (N,) from a MedMNIST-format npz."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    with np.load(Path(npz_path)) as data:
        keys = (f"{split}_images", f"{split}_labels")
        missing = [k for k in keys if k not in data.files]
        if missing:
            raise KeyError(f"{npz_path} has no {missing}; it holds {sorted(data.files)}")
        images = data[keys[0]]
        labels = data[keys[1]].reshape(-1).astype(np.int64)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"{split}_images must be (N,H,W) grayscale, got {images.shape}")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return (images.astype(np.float32) / scale), labels


def evaluate(model: TriageModel, npz_path: Path | str, split: str = "test") -> dict[str, Any]:
    """AUC, accuracy at 0.5 and n of `model` on one split of a MedMNIST-format npz."""
    images, labels = load_split(npz_path, split)
    scores = model.predict(list(images))
    return binary_metrics(labels, scores)
