"""A model folder is refused, with a reason naming the problem, when its manifest or weights are not as shipped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from workers.triage.model.manifest import ModelError, load_manifest
from workers.triage.model.runtime import load_model


def _edit_manifest(folder: Path, **changes: Any) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[leaf] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"thresholds__high": 1.5}, "thresholds.high"),
        ({"thresholds__medium": 0.99, "thresholds__high": 0.5}, "must not exceed high"),
        ({"positive_label": "effusion"}, "positive_label"),
        ({"format": "pickle"}, "format"),
        ({"weights": ["../outside.safetensors"]}, "plain file name"),
        ({"sha256": "abc"}, "sha256"),
        ({"normalization__std": 0}, "normalization.std"),
        ({"surprise": 1}, "surprise"),
        ({"architecture": None}, "needs `architecture`"),
    ],
)
def test_bad_manifest_field_is_rejected(model_copy: Path, changes: dict[str, Any], message: str) -> None:
    _edit_manifest(model_copy, **changes)
    with pytest.raises(ModelError) as info:
        load_model(model_copy)
    assert info.value.code == "MODEL_MANIFEST_INVALID"
    assert message in info.value.message


def test_unreadable_and_missing_manifest(model_copy: Path, tmp_path: Path) -> None:
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError) as info:
        load_manifest(model_copy)
    assert info.value.code == "MODEL_MANIFEST_INVALID"
    with pytest.raises(ModelError) as info:
        load_model(tmp_path / "nowhere")
    assert info.value.code == "MODEL_MANIFEST_MISSING"


def test_tampered_weights_fail_the_sha256_check(model_copy: Path) -> None:
    weights = model_copy / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-7] ^= 0x01  # one bit in the last tensor's data: still a valid safetensors file
    weights.write_bytes(bytes(blob))
    with pytest.raises(ModelError) as info:
        load_model(model_copy)
    assert info.value.code == "MODEL_WEIGHTS_SHA256_MISMATCH"
    assert "refusing to load" in info.value.message


def test_missing_weights_file(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(ModelError) as info:
        load_model(model_copy)
    assert info.value.code == "MODEL_WEIGHTS_MISSING"


def test_onnx_needs_onnxruntime(model_copy: Path) -> None:
    if importlib.util.find_spec("onnxruntime") is not None:
        pytest.skip("onnxruntime is installed here; this checks the error without it")
    _edit_manifest(model_copy, format="onnx", weights=["model.onnx"])
    with pytest.raises(ModelError) as info:
        load_model(model_copy)
    assert info.value.code == "MODEL_FORMAT_UNAVAILABLE"
    assert "onnxruntime" in info.value.message


def test_unknown_device_is_rejected() -> None:
    with pytest.raises(ValueError, match="device"):
        load_model(device="tpu-9")
