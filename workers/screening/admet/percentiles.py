"""DrugBank-approved percentiles, vectorized: scipy.stats.percentileofscore(kind="rank") for a whole column.

ADMET-AI calls percentileofscore once per value and column (~100 columns x N molecules of Python calls over
a 2,845-row reference). With the reference sorted once, searchsorted gives the counts of reference values
below (left) and at or below (right) every score in one call, and scipy's rank formula
(left + right + (right > left)) * 50 / n is then evaluated with the same float64 operations in the same order,
so the results are equal to scipy's, not merely close (tested with ties and out-of-range scores).
"""

from __future__ import annotations

import numpy as np


class PercentileReference:
    """Sorted reference columns; `percentiles(values)` maps a [N, columns] block to their percentiles."""

    def __init__(self, reference: np.ndarray) -> None:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.ndim != 2:
            raise ValueError("reference must be [rows, columns]")
        self.sorted_columns: list[np.ndarray] = []  # read-only; the bench and tests inspect them
        self._nan_column: list[bool] = []
        for j in range(ref.shape[1]):
            column = ref[:, j]
            # scipy propagates NaN: a reference column holding NaN makes every percentile of it NaN.
            self._nan_column.append(bool(np.isnan(column).any()))
            self.sorted_columns.append(np.sort(column))
        self.n_columns = ref.shape[1]

    def percentiles(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.n_columns:
            raise ValueError(f"values must be [N, {self.n_columns}]")
        out = np.empty_like(values)
        for j in range(self.n_columns):
            out[:, j] = rank_percentile(self.sorted_columns[j], values[:, j], self._nan_column[j])
        return out


def rank_percentile(sorted_reference: np.ndarray, scores: np.ndarray, reference_has_nan: bool = False) -> np.ndarray:
    """scipy.stats.percentileofscore(reference, score, kind="rank") for each score (reference pre-sorted)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = sorted_reference.shape[0]
    if n == 0 or reference_has_nan:
        return np.full(scores.shape, np.nan)
    # scipy counts with `a < score` and `a <= score`; side="left"/"right" of a sorted array are those counts.
    left = np.searchsorted(sorted_reference, scores, side="left").astype(np.float64)
    right = np.searchsorted(sorted_reference, scores, side="right").astype(np.float64)
    plus1 = (left < right).astype(np.float64)
    perct = (left + right + plus1) * (50.0 / n)
    # NaN scores: scipy's comparisons are all False (left = right = 0), but it returns NaN for a NaN score.
    return np.where(np.isnan(scores), np.nan, perct)
