"""The screening domain's plug-in. Light: the API imports it; RDKit loads only in `load_pipeline`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session

from db.base import Base
from db.models.screening import ScreeningResult
from workers.plugin import DomainPlugin, Item, Pipeline
from workers.screening import parsers
from workers.screening.params import ScreeningParams

_RUNNER_COLUMNS = frozenset({"id", "job_id", "shard_id"})  # filled by the runner or the database

# Export order follows the table: item_index first, then the user's ID, the structures, the numbers.
EXPORT_COLUMNS = tuple(c.name for c in ScreeningResult.__table__.columns if c.name not in _RUNNER_COLUMNS)
SORT_COLUMNS = (
    "score",
    "qed",
    "mw",
    "clogp",
    "tpsa",
    "hbd",
    "hba",
    "rotatable_bonds",
    "lipinski_violations",
    "item_index",
)


class ScreeningPlugin:
    name: str = "screening"
    params_model: type[BaseModel] = ScreeningParams
    result_model: type[Base] = ScreeningResult
    sort_columns: tuple[str, ...] = SORT_COLUMNS
    filter_columns: tuple[str, ...] = (*SORT_COLUMNS, "item_key")
    default_sort: str = "-score"
    export_columns: tuple[str, ...] = EXPORT_COLUMNS
    shard_size: int | None = None
    identifiable_input: bool = False

    def detect_format(self, filename: str | None, head: bytes, params: BaseModel) -> str:
        return parsers.detect_format(filename, head, params)

    def iter_items(self, path: Path, fmt: str, params: BaseModel) -> Iterator[Item]:
        return parsers.iter_items(path, fmt, params)

    def load_pipeline(self, device: str) -> Pipeline:
        # RDKit descriptors run on the CPU whatever the queue; the outcome reports device "cpu".
        from workers.screening.pipeline import ScreeningPipeline

        return ScreeningPipeline()

    def finalize_job(self, session: Session, job_id: uuid.UUID) -> None:
        return None  # every compound stands alone: nothing to check across shards


PLUGIN: DomainPlugin = ScreeningPlugin()
