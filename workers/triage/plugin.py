"""The triage domain's plug-in. Light: the API imports it; pydicom and torch load only in `load_pipeline`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.settings import get_settings
from db.base import Base
from db.models.triage import TriageResult
from db.repositories import triage as triage_repo
from workers.plugin import DomainPlugin, Item, Pipeline
from workers.triage import containers
from workers.triage.params import TriageParams, as_params

_NOT_EXPORTED = frozenset({"id", "job_id", "shard_id", "thumbnail_png", "saliency_png"})
EXPORT_COLUMNS = tuple(c.name for c in TriageResult.__table__.columns if c.name not in _NOT_EXPORTED)
SORT_COLUMNS = ("score", "probability", "priority_rank", "rows", "cols", "item_index")


class TriagePlugin:
    name: str = "triage"
    params_model: type[BaseModel] = TriageParams
    result_model: type[Base] = TriageResult
    sort_columns: tuple[str, ...] = SORT_COLUMNS
    filter_columns: tuple[str, ...] = (
        *SORT_COLUMNS,
        "priority",
        "modality",
        "body_part",
        "view_position",
        "study_uid",
        "series_uid",
        "model_name",
    )
    default_sort: str = "-score"
    export_columns: tuple[str, ...] = EXPORT_COLUMNS
    identifiable_input: bool = True  # names like "DOE_JOHN_CXR.zip" and the DICOM itself identify patients

    @property
    def shard_size(self) -> int | None:
        return get_settings().triage_shard_size

    def detect_format(self, filename: str | None, head: bytes, params: BaseModel) -> str:
        return containers.detect_format(filename, head, as_params(params))

    def iter_items(self, path: Path, fmt: str, params: BaseModel) -> Iterator[Item]:
        return containers.iter_items(path, fmt, as_params(params), max_file_bytes=get_settings().triage_max_file_bytes)

    def load_pipeline(self, device: str) -> Pipeline:
        from workers.triage.pipeline import TriagePipeline

        return TriagePipeline(device)

    def finalize_job(self, session: Session, job_id: uuid.UUID) -> None:
        # A series is only known whole once every shard is in: a series whose instances name different patients
        # (pseudonyms differ) is rejected here, in the transaction that completes the job, so exactly once.
        triage_repo.reject_mixed_patient_series(session, job_id)


PLUGIN: DomainPlugin = TriagePlugin()
