"""The literature domain's plug-in. Light: the API imports it; torch, transformers and Bio load only in
worker-side hooks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session

from core.settings import get_settings
from db.base import Base
from db.models.literature import LiteratureResult
from workers.literature import parsers
from workers.literature.params import LiteratureParams, as_params
from workers.plugin import DomainPlugin, Item, Pipeline

_RUNNER_COLUMNS = frozenset({"id", "job_id", "shard_id"})
EXPORT_COLUMNS = tuple(c.name for c in LiteratureResult.__table__.columns if c.name not in _RUNNER_COLUMNS)
SORT_COLUMNS = (
    "score",
    "relation_count",
    "chemical_count",
    "disease_count",
    "gene_count",
    "unmatched_count",
    "n_chars",
    "n_sentences",
    "year",
    "item_index",
)


class LiteraturePlugin:
    name: str = "literature"
    params_model: type[BaseModel] = LiteratureParams
    result_model: type[Base] = LiteratureResult
    sort_columns: tuple[str, ...] = SORT_COLUMNS
    filter_columns: tuple[str, ...] = (*SORT_COLUMNS, "doc_id", "item_key", "source", "journal", "chunked")
    default_sort: str = "-score"
    export_columns: tuple[str, ...] = EXPORT_COLUMNS
    identifiable_input: bool = False

    @property
    def shard_size(self) -> int | None:
        return get_settings().literature_shard_size

    def detect_format(self, filename: str | None, head: bytes, params: BaseModel) -> str:
        declared = as_params(params).input_format
        return parsers.detect_format(filename, head, None if declared == "auto" else declared)

    def iter_items(self, path: Path, fmt: str, params: BaseModel) -> Iterator[Item]:
        return parsers.iter_items(path, fmt, require_abstract=as_params(params).require_abstract)

    def load_pipeline(self, device: str) -> Pipeline:
        from workers.literature.pipeline import LiteraturePipeline

        return LiteraturePipeline(device)

    def finalize_job(self, session: Session, job_id: uuid.UUID) -> None:
        # The pair and chemical tables need every shard's documents: built once, in the completing transaction.
        from workers.literature.finalize import finalize_literature_job

        finalize_literature_job(session, job_id)


PLUGIN: DomainPlugin = LiteraturePlugin()
