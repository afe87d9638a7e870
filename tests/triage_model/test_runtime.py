"""The shipped pneumonia model: integrity, accuracy on real val films, invariants of predict() and saliency()."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workers.triage.model.evaluate import binary_metrics
from workers.triage.model.preprocess import to_model_grid
from workers.triage.model.runtime import DEFAULT_MODEL_DIR, TriageModel


def _upsample(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(image)[None, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def test_sha256_matches_manifest_and_card(shipped: TriageModel) -> None:
    weights = DEFAULT_MODEL_DIR / "model.safetensors"
    on_disk = hashlib.sha256(weights.read_bytes()).hexdigest()
    manifest = json.loads((DEFAULT_MODEL_DIR / "manifest.json").read_text())
    card = (DEFAULT_MODEL_DIR / "MODEL_CARD.md").read_text()
    assert shipped.sha256 == on_disk == manifest["sha256"]
    assert on_disk in card
    assert "Not for clinical use" in card
    assert shipped.provenance() == {
        "name": "pneumonia-v1",
        "version": manifest["version"],
        "sha256": on_disk,
        "format": "safetensors",
        "members": manifest["members"],
    }
    # Shipped weights stay small enough to commit.
    assert weights.stat().st_size < 4 * 1024 * 1024


def test_val_auc(shipped: TriageModel, val_split: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = val_split
    probs = shipped.predict(list(images))
    metrics = binary_metrics(labels, probs)
    assert metrics["n"] == 524
    assert metrics["auc"] >= 0.95, metrics
    assert metrics["accuracy"] >= 0.85, metrics
    # The manifest thresholds must order films sensibly: "high" flags few normals.
    high = probs >= shipped.manifest.thresholds.high
    assert (~high[labels == 0]).mean() >= 0.85
    assert high[labels == 1].mean() >= 0.80


def test_predict_range_dtype_and_batch_equivalence(shipped: TriageModel, images28: list[np.ndarray]) -> None:
    batch = shipped.predict(images28, batch_size=5)
    assert batch.dtype == np.float32 and batch.shape == (len(images28),)
    assert np.all((batch >= 0) & (batch <= 1))
    single = np.array([shipped.predict([img])[0] for img in images28])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert shipped.predict([]).shape == (0,)


def test_mixed_sizes_in_one_call(shipped: TriageModel, images28: list[np.ndarray]) -> None:
    mixed = [images28[0], _upsample(images28[1], (300, 300)), images28[2], _upsample(images28[3], (300, 300))]
    together = shipped.predict(mixed)
    apart = np.array([shipped.predict([m])[0] for m in mixed])
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_large_film_resamples_to_its_28px_source(images28: list[np.ndarray]) -> None:
    large = [_upsample(img, (1024, 1024)) for img in images28]
    grid = to_model_grid(large, (28, 28), "cpu")[:, 0].numpy()
    assert np.abs(grid - np.stack(images28)).mean() < 0.02


def test_downsampling_is_antialiased() -> None:
    # A one-pixel checkerboard must average to flat grey; point sampling would alias it into a random pattern.
    checker = (np.indices((1000, 1000)).sum(axis=0) % 2).astype(np.float32)
    grid = to_model_grid([checker], (28, 28), "cpu")[0, 0].numpy()
    assert np.abs(grid - 0.5).max() < 0.02


def test_large_film_scores_like_its_28px_source(shipped: TriageModel, val_split: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = val_split
    # Real films only: on synthetic textures the model is off its training distribution and blur-sensitive.
    picks = [images[i] for i in np.r_[np.flatnonzero(labels == 0)[:12], np.flatnonzero(labels == 1)[:12]]]
    small = shipped.predict(picks)
    large = shipped.predict([_upsample(img, (1024, 1024)) for img in picks], batch_size=4)
    # Up- then down-sampling blurs the film a little; borderline films move by a few points at most.
    diff = np.abs(small - large)
    assert diff.mean() < 0.02 and diff.max() < 0.1, np.c_[small, large]


def test_non_square_film_is_centre_cropped(shipped: TriageModel, images28: list[np.ndarray]) -> None:
    square = _upsample(images28[0], (512, 512))
    # Side bands outside the centre square must not influence the score.
    wide = np.concatenate([np.ones((512, 64), np.float32), square, np.zeros((512, 64), np.float32)], axis=1)
    assert shipped.predict([wide])[0] == pytest.approx(shipped.predict([square])[0], abs=1e-5)


def test_bad_images_are_rejected(shipped: TriageModel) -> None:
    with pytest.raises(ValueError, match="2D"):
        shipped.predict([np.zeros((28, 28, 3), np.float32)])
    bad = np.zeros((28, 28), np.float32)
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        shipped.predict([bad])


def test_saliency_shape_and_range(shipped: TriageModel, images28: list[np.ndarray]) -> None:
    film = np.concatenate([np.zeros((600, 100), np.float32), _upsample(images28[-1], (600, 600))], axis=1)
    heat = shipped.saliency(film)
    assert heat.shape == film.shape and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() == pytest.approx(1.0)
    # The model never saw the cropped-away band, so it cannot carry evidence.
    assert np.all(heat[:, :50] == 0)
    small = shipped.saliency(images28[-1])
    assert small.shape == (28, 28) and 0.0 <= small.min() <= small.max() <= 1.0


def test_batched_saliency_equals_one_at_a_time(shipped: TriageModel, images28: list[np.ndarray]) -> None:
    films = [images28[0], _upsample(images28[1], (300, 240)), images28[-1]]
    batched = shipped.saliency_batch(films)
    for film, heat in zip(films, batched, strict=True):
        single = shipped.saliency(film)
        assert heat.shape == film.shape
        np.testing.assert_allclose(heat, single, atol=1e-5)
