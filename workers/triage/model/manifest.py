"""`manifest.json`: everything needed to run a triage model besides its weights. Light: no torch import."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import PermanentError

MANIFEST_NAME = "manifest.json"
ModelFormat = Literal["safetensors", "torchscript", "onnx"]


class ModelError(PermanentError):
    """A model folder that cannot be used as shipped; reloading or retrying the task cannot fix it."""


class Normalization(BaseModel):
    """Applied after resizing, to pixels already scaled to [0,1] in MONOCHROME2 orientation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float = Field(ge=0.0, le=1.0)
    std: float = Field(gt=0.0, le=1.0)


class Thresholds(BaseModel):
    """Probability cut-offs for priority levels, chosen on the validation split (see MODEL_CARD.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high: float = Field(ge=0.0, le=1.0)
    medium: float = Field(ge=0.0, le=1.0)

    def __getitem__(self, level: str) -> float:
        """thresholds["high"] reads like the JSON it came from."""
        if level not in ("high", "medium"):
            raise KeyError(level)
        return float(getattr(self, level))

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.medium > self.high:
            raise ValueError(f"medium ({self.medium}) must not exceed high ({self.high})")
        return self


class Architecture(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kwargs: dict[str, Any] = Field(default_factory=dict)


class ModelManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+([.+-][0-9A-Za-z.]+)?$")
    format: ModelFormat
    weights: list[str] = Field(min_length=1, description="weight file names in this folder")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="of the weight files concatenated in sorted order")
    weights_dtype: Literal["float32", "float16"] = "float32"
    architecture: Architecture | None = None
    members: int = Field(ge=1, description="ensemble members; their probabilities are averaged")
    modality: list[str] = Field(min_length=1)
    body_part: list[str] = Field(min_length=1)
    input_size: tuple[int, int]
    channels: Literal[1] = 1
    photometric: Literal["MONOCHROME2"] = "MONOCHROME2"
    # Inputs are centre-cropped to a square before resizing, as MedMNIST built its images.
    crop: Literal["center_square"] = "center_square"
    normalization: Normalization
    labels: list[str] = Field(min_length=2, max_length=2)
    positive_label: str
    thresholds: Thresholds
    tta_hflip: bool = False
    resolution_limits: str
    training: dict[str, Any] = Field(default_factory=dict, description="recipe, data and validation metrics")

    @field_validator("weights")
    @classmethod
    def _plain_names(cls, names: list[str]) -> list[str]:
        for name in names:
            # A manifest must not point outside its own folder.
            if not name or "/" in name or "\\" in name or name in {".", ".."}:
                raise ValueError(f"weight file {name!r} must be a plain file name")
        if len(set(names)) != len(names):
            raise ValueError("weight file names repeat")
        return names

    @field_validator("input_size")
    @classmethod
    def _positive_size(cls, size: tuple[int, int]) -> tuple[int, int]:
        if min(size) < 8 or max(size) > 1024:
            raise ValueError(f"input_size {size} outside [8, 1024]")
        return size

    @field_validator("modality", "body_part")
    @classmethod
    def _upper(cls, values: list[str]) -> list[str]:
        return [v.strip().upper() for v in values]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels {self.labels} repeat")
        if self.positive_label not in self.labels:
            raise ValueError(f"positive_label {self.positive_label!r} is not one of {self.labels}")
        if self.format == "safetensors" and self.architecture is None:
            raise ValueError("a safetensors model needs `architecture` (the weights carry no code)")
        return self


def load_manifest(folder: Path) -> ModelManifest:
    path = folder / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("MODEL_MANIFEST_MISSING", f"{path} does not exist") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError("MODEL_MANIFEST_INVALID", f"{path}: not readable JSON ({exc})") from exc
    try:
        return ModelManifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise ModelError("MODEL_MANIFEST_INVALID", f"{path}: {problems}") from exc


def weights_sha256(folder: Path, names: list[str]) -> str:
    """sha256 over the weight files concatenated in sorted name order, streamed."""
    digest = hashlib.sha256()
    for name in sorted(names):
        path = folder / name
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            raise ModelError("MODEL_WEIGHTS_MISSING", f"{path} does not exist") from None
    return digest.hexdigest()


def write_manifest(folder: Path, manifest: ModelManifest) -> Path:
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return path
