"""Parameters of a triage job. Light: imported by the API to validate submissions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

InputFormat = Literal["auto", "dicom", "zip"]

# What a routing rule may choose: "default" is the worker's triage model (MEDSIEVE_TRIAGE_MODEL_DIR, else the
# shipped pneumonia-v1); "none" records the instance (de-identified, quality-checked, thumbnail) unscored.
ModelName = Literal["default", "none"]


class RoutingRule(BaseModel):
    """One declarative rule: the first rule whose every given condition matches an instance picks its model.
    Conditions compare case-insensitively against the de-identified header; an empty list means "any"."""

    model_config = ConfigDict(extra="forbid")

    modality: list[str] = Field(default_factory=list, description="e.g. ['CR', 'DX']")
    body_part: list[str] = Field(
        default_factory=list, description="BodyPartExamined values, e.g. ['CHEST']; '' matches a missing value"
    )
    view: list[str] = Field(default_factory=list, description="ViewPosition values, e.g. ['PA', 'AP']")
    min_side: int = Field(default=0, ge=0, description="smallest accepted min(rows, cols) in pixels")
    model: ModelName = "default"


def default_rules() -> list[RoutingRule]:
    # The shipped model is a chest radiograph model: plain radiographs whose body part is chest or unrecorded
    # (many CR exports leave BodyPartExamined empty). Everything else is checked and stored but not scored.
    return [RoutingRule(modality=["CR", "DX"], body_part=["CHEST", ""], model="default")]


class TriageParams(BaseModel):
    """What a client may set for a triage job; unknown keys are rejected so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")

    input_format: InputFormat = Field(
        default="auto", description="'dicom' (one Part 10 file), 'zip' (an archive of them), or 'auto' (sniffed)."
    )
    rules: list[RoutingRule] = Field(
        default_factory=default_rules, max_length=64, description="Routing rules, first match wins."
    )
    allow_burned_in: bool = Field(
        default=False,
        description="Score images that may carry burned-in annotations instead of quarantining them "
        "(BURNED_IN_ANNOTATION). Thumbnails are never made for such images.",
    )
    high_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Probability for priority 'high'; None = the model's manifest."
    )
    medium_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Probability for priority 'medium'; None = the model's manifest."
    )
    thumbnails: bool = Field(default=True, description="Store de-identified PNG thumbnails (256 px).")
    saliency: bool = Field(default=True, description="Store a Grad-CAM overlay for high/medium priority images.")

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> TriageParams:
        if (
            self.high_threshold is not None
            and self.medium_threshold is not None
            and self.medium_threshold > self.high_threshold
        ):
            raise ValueError("medium_threshold must not exceed high_threshold")
        return self


def as_params(params: BaseModel) -> TriageParams:
    """The runner hands pipelines the validated model of the plug-in; anything else is re-validated."""
    return params if isinstance(params, TriageParams) else TriageParams.model_validate(params.model_dump())
