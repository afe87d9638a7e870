"""A tiny training run end to end: files written, loadable, reproducible; TorchScript members load too."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from workers.triage.model.manifest import ModelError
from workers.triage.model.runtime import load_model
from workers.triage.model.train import train

TINY = {"seed": 7, "epochs": 1, "members": 1, "max_train": 256, "batch_size": 64, "val_mode": "holdout"}


def test_tiny_training_run_writes_a_loadable_model(npz_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    metrics = train(npz_path, out, log=None, **TINY)
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "manifest.json", "model.safetensors"]
    sha = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    assert metrics["sha256"] == sha
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sha256"] == sha and manifest["members"] == 1
    assert manifest["training"]["recipe"]["seed"] == 7
    assert 0.0 <= manifest["thresholds"]["medium"] <= manifest["thresholds"]["high"] <= 1.0
    card = (out / "MODEL_CARD.md").read_text()
    assert "Not for clinical use" in card and sha in card
    model = load_model(out)
    probs = model.predict([np.full((28, 28), 0.5, np.float32), np.zeros((40, 30), np.float32)])
    assert probs.shape == (2,) and np.all((probs >= 0) & (probs <= 1))
    # fp16 storage must not move the scores the metrics were computed from.
    assert metrics["storage_max_abs_diff"] < 5e-3
    # Same seed, same data, same thread count: the same weights.
    again = train(npz_path, tmp_path / "again", log=None, **TINY)
    assert again["sha256"] == sha


def test_crossfit_needs_two_members(npz_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 members"):
        train(npz_path, tmp_path / "x", log=None, **{**TINY, "val_mode": "crossfit"})


def test_torchscript_members_load_and_match(shipped, model_copy: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = json.loads((model_copy / "manifest.json").read_text())
    names = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated upstream; saving is test-only
        for i, member in enumerate(shipped.members):
            buf = io.BytesIO()
            torch.jit.save(torch.jit.trace(member, torch.zeros(2, 1, 28, 28)), buf)
            names.append(f"member{i}.pt")
            (model_copy / names[-1]).write_bytes(buf.getvalue())
    digest = hashlib.sha256(b"".join((model_copy / n).read_bytes() for n in sorted(names))).hexdigest()
    manifest.update(format="torchscript", weights=names, sha256=digest, architecture=None)
    (model_copy / "manifest.json").write_text(json.dumps(manifest))
    scripted = load_model(model_copy)
    images = [np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28), np.full((64, 64), 0.6, np.float32)]
    np.testing.assert_allclose(scripted.predict(images), shipped.predict(images), atol=1e-5)
    heat = scripted.saliency(images[1])
    assert heat.shape == (64, 64) and 0.0 <= heat.min() <= heat.max() <= 1.0
    manifest["members"] = len(names) + 1
    (model_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="TorchScript files"):
        load_model(model_copy)
