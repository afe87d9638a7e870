"""Typed request and response bodies, so /openapi.json describes the API precisely."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_INLINE_ITEMS = 100_000


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorDetail


class JobSubmitJson(BaseModel):
    """JSON body of POST /v1/jobs with inline items. Project, status and owner come from the token and the
    system, never from the body: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=32)
    parameters: dict[str, Any] = Field(default_factory=dict)
    items: list[str | dict[str, Any]] = Field(
        min_length=0,
        max_length=MAX_INLINE_ITEMS,
        description="Inline records: e.g. SMILES strings or {'smiles': ..., 'id': ...} objects.",
    )
    name: str | None = Field(default=None, max_length=200)
    priority: int = Field(default=0, ge=0, le=9)
    device: str | None = Field(default=None, description="cpu or gpu; the server default when omitted")


class JobCounts(BaseModel):
    items_total: int | None = Field(description="Known once ingest has read the whole input")
    items_ingested: int
    items_succeeded: int
    items_failed: int
    items_pending: int


class ShardCounts(BaseModel):
    total: int | None = Field(description="Known once ingest has finished")
    created: int
    done: int
    by_status: dict[str, int]


class JobSummary(BaseModel):
    id: uuid.UUID
    domain: str
    name: str | None
    status: str
    device: str
    priority: int
    input_format: str
    input_filename: str | None
    input_bytes: int
    input_sha256: str
    items_total: int | None
    items_succeeded: int
    items_failed: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None


class JobDetail(JobSummary):
    parameters: dict[str, Any]
    counts: JobCounts
    shards: ShardCounts
    throughput_items_per_s: float | None
    eta_s: float | None
    updated_at: datetime
    ingest_dispatched_at: datetime | None


class JobList(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None


class ResultsPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None
    sort: str
    columns: list[str]


class ItemErrorOut(BaseModel):
    item_index: int
    item_key: str | None
    code: str
    message: str
    shard_id: int | None


class ErrorsPage(BaseModel):
    items: list[ItemErrorOut]
    next_cursor: str | None


class ProvenanceOut(BaseModel):
    shard_id: int
    shard_index: int
    item_start: int
    item_count: int
    code_version: str
    model_name: str
    model_version: str
    model_sha256: str
    package_versions: dict[str, Any]
    parameters: dict[str, Any]
    input_sha256: str
    host: str
    device: str
    timings: dict[str, Any]
    # Each model behind the results when several contributed (name, version, sha256); model_* is their combination.
    components: list[dict[str, Any]] = []
    created_at: datetime


class ProvenancePage(BaseModel):
    items: list[ProvenanceOut]
    next_cursor: str | None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class WorklistSeries(BaseModel):
    series_uid: str = Field(description="Pseudonymous series UID (stable within the project)")
    modality: str | None
    body_part: str | None
    instances: int
    priority: str
    max_probability: float | None
    flagged_instances: int = Field(description="Instances with at least one quality flag")
    top_item_index: int = Field(description="The series' highest-scoring instance (for its thumbnail)")
    reasons: str


class WorklistStudy(BaseModel):
    study_uid: str = Field(description="Pseudonymous study UID (stable within the project)")
    priority: str
    max_probability: float | None
    instances: int
    series: list[WorklistSeries]


class Worklist(BaseModel):
    items: list[WorklistStudy]
    total_studies: int
    offset: int
    limit: int


class HitsPage(BaseModel):
    """A screening job's top hits by composite score (see README, Ranking)."""

    job_id: uuid.UUID
    status: str
    k: int
    items: list[dict[str, Any]]


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["sdf"] = "sdf"
    sort: str | None = Field(default=None, max_length=64)
    filters: list[str] = Field(default_factory=list, max_length=16)
    limit: int | None = Field(default=None, ge=1, le=10_000_000)


class ExportOut(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID
    format: str
    status: str
    records: int | None
    size_bytes: int | None
    sha256: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = None


class ModelMemberOut(BaseModel):
    sha256: str
    bytes: int
    filename: str = Field(description="The operator's file name, for reference only")


class RegisteredModelOut(BaseModel):
    name: str
    version: str
    kind: str = Field(description="Model family; 'chemprop' (Chemprop v2 MPNN checkpoints)")
    sha256: str = Field(description="sha256 over the members' sha256 hex digests, concatenated in ensemble order")
    tasks: list[str]
    task_type: str = Field(description="regression or classification (or a Chemprop uncertainty variant of them)")
    n_members: int
    description: str | None
    created_at: datetime


class RegisteredModelDetail(RegisteredModelOut):
    members: list[ModelMemberOut]


class ModelList(BaseModel):
    items: list[RegisteredModelOut] = Field(description="Sorted by name, newest version first within a name")


class ModelVersions(BaseModel):
    name: str
    versions: list[RegisteredModelDetail] = Field(description="Newest first")
