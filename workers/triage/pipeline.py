"""The triage pipeline: read -> header checks -> de-identify -> decode -> quality -> route -> score -> render.

The only module of the domain that pulls in pydicom and torch (through the dicom and model packages); the
plug-in loads it lazily in the worker process. Order matters for safety: nothing about an instance is kept
until it has been de-identified, and every failure message is ours (never an exception's text, which may echo
a header value). Scoring is batched over the shard's routed instances.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
import torch
from pydantic import BaseModel

from core.enums import ItemErrorCode
from core.settings import get_settings
from workers.plugin import BatchOutcome, Item, ItemFailure, JobContext, ModelInfo
from workers.triage import render
from workers.triage.containers import InputReader, MemberError
from workers.triage.dicom.deid import burned_in_risk, deidentify
from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.inspect import Caps, read_dataset
from workers.triage.dicom.pixels import decode_image, quality_flags
from workers.triage.dicom.thumbnail import png_thumbnail
from workers.triage.keys import project_key
from workers.triage.model.runtime import TriageModel, load_model
from workers.triage.params import TriageParams, as_params
from workers.triage.routing import route

PRIORITY_RANK = {"high": 3, "medium": 2, "low": 1, "not_scored": 0}
# Flags that make a score meaningless: the instance is kept and reported, not scored.
_UNSCORABLE = frozenset({"constant_image"})


@dataclass
class _Pending:
    """One instance that passed every check, waiting for the batched model call."""

    item: Item
    row: dict[str, Any]
    image: np.ndarray  # working size (render.WORKING_SIDE), display orientation, [0, 1]
    model: str | None
    flags: list[str]
    reasons: list[str] = field(default_factory=list)


class TriagePipeline:
    """Loaded once per worker process: the default model stays resident."""

    def __init__(self, device: str) -> None:
        self.device = "cuda" if device == "gpu" and torch.cuda.is_available() else "cpu"
        settings = get_settings()
        self.caps = Caps(max_file_bytes=settings.triage_max_file_bytes)
        self.reader = InputReader(settings.triage_max_file_bytes)
        self.scorer: TriageModel = load_model(settings.triage_model_dir, device=self.device)
        self.model = ModelInfo(self.scorer.name, self.scorer.version, self.scorer.sha256)
        self.packages = {
            "pydicom": pydicom.__version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        }
        # Value validation on read only produces warnings (which the DICOM layer drops, as they can echo header
        # values); skip the work. Our own per-item codes say what was wrong.
        pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

    def run(self, items: Sequence[Item], params: BaseModel, context: JobContext | None = None) -> BatchOutcome:
        params = as_params(params)
        if context is None:
            raise ValueError("the triage pipeline needs the job context (input path, project)")
        key = project_key(context.project_id)
        start = time.perf_counter()
        errors: list[ItemFailure] = []
        pending: list[_Pending] = []
        for item in items:
            if item.error is not None:
                errors.append(ItemFailure(item.index, item.key, item.error[0], item.error[1]))
                continue
            try:
                pending.append(self._prepare(item, params, context, key))
            except (DicomItemError, MemberError) as exc:
                errors.append(ItemFailure(item.index, item.key, exc.code, exc.message))
            except Exception as exc:  # a bad item never fails its batch; the type only, never the text
                message = f"unexpected {type(exc).__name__} while reading the instance"
                errors.append(ItemFailure(item.index, item.key, ItemErrorCode.PROCESSING_ERROR.value, message))
        decode_s = time.perf_counter() - start
        t_model = time.perf_counter()
        self._score(pending, params)
        model_s = time.perf_counter() - t_model
        results = [self._finish(p, params) for p in pending]
        t_saliency = time.perf_counter()
        self._saliency(pending, params)
        saliency_s = time.perf_counter() - t_saliency
        timings = {
            "decode_s": decode_s,
            "model_s": model_s,
            "saliency_s": saliency_s,
            "total_s": time.perf_counter() - start,
        }
        return BatchOutcome(results, errors, self.model, self.device, dict(self.packages), timings)

    def _prepare(self, item: Item, params: TriageParams, context: JobContext, key: bytes) -> _Pending:
        raw = self.reader.read(context.input_path, item.payload)
        ds = read_dataset(raw, self.caps)
        del raw
        risky = burned_in_risk(ds)  # read before de-identification may drop the attribute
        info = deidentify(ds, key)
        if risky and not params.allow_burned_in:
            raise DicomItemError(
                ItemErrorCode.BURNED_IN_ANNOTATION.value,
                "image may carry burned-in annotations; quarantined (set allow_burned_in to score it)",
            )
        image = render.reduce(decode_image(ds, self.caps))
        del ds
        flags = list(quality_flags(image, info))
        chosen = route(
            params.rules,
            modality=info.modality,
            body_part=info.body_part,
            view=info.view_position,
            min_side=min(info.rows, info.cols),
        )
        reasons = [chosen.reason if chosen.model is None else f"scored by {self.scorer.name} {self.scorer.version}"]
        model = chosen.model
        if model is not None and _UNSCORABLE.intersection(flags):
            reasons = [f"not scored: quality flags {', '.join(sorted(_UNSCORABLE.intersection(flags)))}"]
            model = None
        row = {
            "item_index": item.index,
            "item_key": item.key,
            "study_uid": info.study_uid,
            "series_uid": info.series_uid,
            "instance_uid": info.instance_uid,
            "patient_pseudonym": info.patient_pseudonym,
            "modality": info.modality,
            "body_part": info.body_part,
            "view_position": info.view_position,
            "rows": info.rows,
            "cols": info.cols,
            "frames": info.frames,
            # Thumbnails are skipped for burned-in risk even when scoring was allowed: the text is in the pixels.
            "thumbnail_png": png_thumbnail(image) if params.thumbnails and not risky else None,
        }
        return _Pending(item, row, image, model, flags, reasons)

    def _score(self, pending: list[_Pending], params: TriageParams) -> None:
        scored = [p for p in pending if p.model is not None]
        if not scored:
            return
        probabilities = self.scorer.predict([p.image for p in scored])
        for p, prob in zip(scored, probabilities, strict=True):
            p.row["probability"] = float(prob)

    def _finish(self, p: _Pending, params: TriageParams) -> dict[str, Any]:
        row = p.row
        prob = row.get("probability")
        thresholds = self.scorer.manifest.thresholds
        high = params.high_threshold if params.high_threshold is not None else thresholds["high"]
        medium = params.medium_threshold if params.medium_threshold is not None else thresholds["medium"]
        if prob is None:
            priority = "not_scored"
        elif prob >= high:
            priority = "high"
            p.reasons.append(f"{self.scorer.manifest.positive_label} probability {prob:.3f} >= high {high:.3f}")
        elif prob >= medium:
            priority = "medium"
            p.reasons.append(f"{self.scorer.manifest.positive_label} probability {prob:.3f} >= medium {medium:.3f}")
        else:
            priority = "low"
            p.reasons.append(f"{self.scorer.manifest.positive_label} probability {prob:.3f} < medium {medium:.3f}")
        p.reasons.extend(f"quality: {flag}" for flag in p.flags)
        rank = PRIORITY_RANK[priority]
        row.update(
            model_name=p.model,
            probability=prob,
            priority=priority,
            priority_rank=rank,
            score=rank + prob if prob is not None else -1.0,
            quality_flags=";".join(p.flags),
            reasons="; ".join(p.reasons),
            saliency_png=None,
        )
        return row

    def _saliency(self, pending: list[_Pending], params: TriageParams) -> None:
        """Grad-CAM overlays for the flagged (high/medium) instances of the shard, in one batched pass. Not for
        instances without a thumbnail (burned-in risk): the overlay shows the pixels too."""
        if not params.saliency:
            return
        flagged = [p for p in pending if p.row["priority"] in ("high", "medium") and p.row["thumbnail_png"] is not None]
        if not flagged:
            return
        heats = self.scorer.saliency_batch([p.image for p in flagged])
        for p, heat in zip(flagged, heats, strict=True):
            p.row["saliency_png"] = render.overlay_png(p.image, heat)
