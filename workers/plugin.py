"""The one interface every domain implements. Light: no heavy imports here or in a plugin's spec module."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.orm import Session

from db.base import Base


@dataclass(frozen=True, slots=True)
class Item:
    """One input record. `index` (0-based position in the input) is the stable item key: unique per job and
    the same on every re-parse. `key` is the user's own identifier (ID column, SDF title), kept as given."""

    index: int
    key: str | None
    payload: dict[str, Any]
    # Set when the record was already bad while splitting the input (code, message); it becomes an item error.
    error: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ItemFailure:
    index: int
    key: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    version: str
    sha256: str  # of the weights; for rule-based code, of the implementing source


def combined_model(components: Sequence[ModelInfo]) -> ModelInfo:
    """One provenance identity for several models: names and versions joined, sha256 over their sha256s."""
    if len(components) == 1:
        return components[0]
    digest = hashlib.sha256("".join(c.sha256 for c in components).encode()).hexdigest()
    name = "+".join(c.name for c in components)[:200]
    version = "+".join(c.version for c in components)[:64]
    return ModelInfo(name, version, digest)


@dataclass
class BatchOutcome:
    # Rows for the domain's result table, without job_id/shard_id (the runner adds those).
    results: list[dict[str, Any]]
    errors: list[ItemFailure]
    model: ModelInfo
    device: str
    packages: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # Every model behind the results when more than one contributed (`model` then names the combination).
    components: list[ModelInfo] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class JobContext:
    """What the runner knows about the shard's job that is not a user parameter. The project comes from the job
    row, never from a message or the request body (triage derives its per-project pseudonym key from it)."""

    job_id: uuid.UUID
    project_id: uuid.UUID
    input_path: Path  # the stored input artifact, for pipelines whose items point into it (archive members)


class Pipeline(Protocol):
    """Loaded once per worker process and kept resident."""

    model: ModelInfo

    def run(self, items: Sequence[Item], params: BaseModel, context: JobContext | None = None) -> BatchOutcome:
        """Pure: no DB, no broker. A bad item becomes an ItemFailure; only a bug or resource failure raises."""
        ...


class DomainPlugin(Protocol):
    name: str
    params_model: type[BaseModel]
    result_model: type[Base]
    # Result columns a client may sort/filter on and the default sort ("-score" = descending).
    sort_columns: tuple[str, ...]
    filter_columns: tuple[str, ...]
    default_sort: str
    export_columns: tuple[str, ...]

    @property
    def shard_size(self) -> int | None:
        """Items per shard; None = the `shard_size` setting. Domains with heavy items (DICOM) use smaller shards."""
        ...

    # True where the upload identifies patients (DICOM; even its file name, "DOE_JOHN.zip"): the name is not
    # stored, and the stored input is deleted once every job reading it has ended (the sweeper purges it).
    identifiable_input: bool

    def detect_format(self, filename: str | None, head: bytes, params: BaseModel) -> str:
        """Input format name from the file name, the first bytes and the parameters; raises InvalidInput."""
        ...

    def iter_items(self, path: Path, fmt: str, params: BaseModel) -> Iterator[Item]:
        """Stream the stored input in constant memory, in input order."""
        ...

    def load_pipeline(self, device: str) -> Pipeline:
        """Import heavy libraries and load models; called once per worker process."""
        ...

    def finalize_job(self, session: Session, job_id: uuid.UUID) -> None:
        """Job-level checks that need every shard's rows, run in the transaction that completes the job (so
        exactly once). May move results to item errors; must keep the job's item counters equal to the rows."""
        ...
