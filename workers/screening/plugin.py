"""The screening domain's plug-in. Light: the API imports it; RDKit loads only in worker-side hooks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session

from db.base import Base
from db.models.screening import ScreeningResult
from workers.plugin import DomainPlugin, Item, ModelInfo, Pipeline
from workers.screening import parsers
from workers.screening.params import ScreeningParams

# Filled by the runner or the database, or too bulky for a flat export (they are flattened by the exporters).
_RUNNER_COLUMNS = frozenset({"id", "job_id", "shard_id"})

# Export order follows the table: item_index first, then the user's ID, the structures, the numbers.
EXPORT_COLUMNS = tuple(c.name for c in ScreeningResult.__table__.columns if c.name not in _RUNNER_COLUMNS)
SORT_COLUMNS = (
    "score",
    "qed",
    "similarity",
    "activity",
    "activity_std",
    "mw",
    "clogp",
    "tpsa",
    "hbd",
    "hba",
    "rotatable_bonds",
    "heavy_atoms",
    "lipinski_violations",
    "alert_count",
    "item_index",
)


class ScreeningPlugin:
    name: str = "screening"
    params_model: type[BaseModel] = ScreeningParams
    result_model: type[Base] = ScreeningResult
    sort_columns: tuple[str, ...] = SORT_COLUMNS
    filter_columns: tuple[str, ...] = (
        *SORT_COLUMNS,
        "item_key",
        "inchikey",
        "passes_filters",
        "nearest_reference",
        "duplicate_of",
        "same_structure_as",
    )
    default_sort: str = "-score"
    export_columns: tuple[str, ...] = EXPORT_COLUMNS
    shard_size: int | None = None
    identifiable_input: bool = False

    def detect_format(self, filename: str | None, head: bytes, params: BaseModel) -> str:
        return parsers.detect_format(filename, head, params)

    def iter_items(self, path: Path, fmt: str, params: BaseModel) -> Iterator[Item]:
        # Runs in the ingest task (a worker): the chemistry in the parameters is checked here, before any shard
        # exists, so a bad SMARTS fails the job once with its name instead of failing every compound.
        from workers.screening.checks import check_params

        check_params(parsers.as_params(params))
        return parsers.iter_items(path, fmt, params)

    def load_pipeline(self, device: str) -> Pipeline:
        from workers.screening.pipeline import ScreeningPipeline

        return ScreeningPipeline(device=device, resolver=_resolve_registered)

    def finalize_job(self, session: Session, job_id: uuid.UUID) -> None:
        from workers.screening.finalize import finalize_screening_job

        finalize_screening_job(session, job_id)


def _resolve_registered(project_id: uuid.UUID, name: str, version: str | None) -> tuple[ModelInfo, list[Path]]:
    # Chemprop and Lightning take ~10 s to import: only a job that names an activity model pays for them.
    from workers.screening.activity import registry_resolver

    return registry_resolver(project_id, name, version)


PLUGIN: DomainPlugin = ScreeningPlugin()
