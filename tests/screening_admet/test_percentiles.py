"""The vectorized DrugBank percentile equals scipy.stats.percentileofscore(kind="rank") exactly."""

from __future__ import annotations

import numpy as np
from scipy.stats import percentileofscore

from workers.screening.admet.percentiles import PercentileReference, rank_percentile


def scipy_rank(reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return np.array([percentileofscore(reference, s) for s in scores], dtype=np.float64)


def test_ties_out_of_range_and_exact_hits() -> None:
    reference = np.array([3.0, 1.0, 2.0, 2.0, 2.0, 5.0, 5.0, 9.0, -4.0, 0.0])
    scores = np.array([-100.0, -4.0, -3.9, 0.0, 1.0, 2.0, 2.5, 5.0, 8.999, 9.0, 9.5, 1e9, -0.0])
    got = rank_percentile(np.sort(reference), scores)
    np.testing.assert_array_equal(got, scipy_rank(reference, scores))
    assert got[0] == 0.0 and got[-3] == 100.0  # below the minimum, above the maximum


def test_random_columns_with_heavy_ties() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 17, 2845):
        reference = rng.integers(0, 6, n).astype(np.float64)  # integer-valued, like the alert counts
        scores = np.concatenate([rng.integers(-1, 8, 50).astype(np.float64), rng.normal(3, 3, 50)])
        np.testing.assert_array_equal(rank_percentile(np.sort(reference), scores), scipy_rank(reference, scores))


def test_float32_predictions_against_float64_reference() -> None:
    """ADMET-AI hands scipy float32 predictions; widened to float64 they compare as scipy compares them."""
    rng = np.random.default_rng(3)
    reference = rng.random(500)
    scores32 = np.concatenate([reference[:50].astype(np.float32), rng.random(50).astype(np.float32)])
    expected = np.array([percentileofscore(reference, s) for s in scores32])
    np.testing.assert_array_equal(rank_percentile(np.sort(reference), scores32.astype(np.float64)), expected)


def test_nan_handling_follows_scipy() -> None:
    reference = np.array([1.0, 2.0, 3.0])
    got = rank_percentile(np.sort(reference), np.array([np.nan, 2.0]))
    assert np.isnan(got[0]) and got[1] == percentileofscore(reference, 2.0)
    # A NaN in the reference makes scipy return NaN for every score (nan_policy="propagate").
    block = PercentileReference(np.array([[1.0, 1.0], [np.nan, 2.0], [3.0, 3.0]]))
    out = block.percentiles(np.array([[2.0, 2.0]]))
    assert np.isnan(out[0, 0]) and np.isnan(percentileofscore([1.0, np.nan, 3.0], 2.0))
    assert out[0, 1] == percentileofscore([1.0, 2.0, 3.0], 2.0)


def test_reference_block_maps_columns_independently() -> None:
    rng = np.random.default_rng(11)
    reference = rng.integers(0, 4, (40, 3)).astype(np.float64)
    values = rng.integers(-1, 5, (25, 3)).astype(np.float64)
    got = PercentileReference(reference).percentiles(values)
    for j in range(3):
        np.testing.assert_array_equal(got[:, j], scipy_rank(reference[:, j], values[:, j]))
