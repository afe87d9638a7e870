"""Platform tables: tenancy, jobs, shards, per-item errors, provenance, artifacts, audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, JsonType, UTCDateTime, utcnow


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Only the SHA-256 of the secret is stored; the prefix lets a human tell tokens apart.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Artifact(Base):
    """A stored input file, content-addressed: the path is derived from the sha256, never from a user name."""

    __tablename__ = "artifacts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the file was deleted from the store (identifiable inputs, after their jobs ended); a new upload
    # of the same bytes clears it.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key"),
        Index("ix_jobs_project_created", "project_id", "created_at"),
        Index("ix_jobs_status_updated", "status", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    device: Mapped[str] = mapped_column(String(8), default="cpu")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # Hash of (domain, parameters, input) so a reused idempotency key with another body is caught.
    request_sha256: Mapped[str] = mapped_column(String(64))
    input_sha256: Mapped[str] = mapped_column(ForeignKey("artifacts.sha256"))
    input_format: Mapped[str] = mapped_column(String(16))
    input_filename: Mapped[str | None] = mapped_column(String(255))
    input_bytes: Mapped[int] = mapped_column(BigInteger, default=0)

    # Counters are updated in the same transaction as the rows they count.
    items_total: Mapped[int | None] = mapped_column(BigInteger)
    items_ingested: Mapped[int] = mapped_column(BigInteger, default=0)
    items_succeeded: Mapped[int] = mapped_column(BigInteger, default=0)
    items_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    shards_total: Mapped[int | None] = mapped_column(Integer)
    shards_created: Mapped[int] = mapped_column(Integer, default=0)
    shards_done: Mapped[int] = mapped_column(Integer, default=0)

    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ingest_dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Shard(Base):
    __tablename__ = "shards"
    __table_args__ = (
        UniqueConstraint("job_id", "index"),
        Index("ix_shards_status_dispatched", "status", "dispatched_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    item_start: Mapped[int] = mapped_column(BigInteger)
    item_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    compute_ms: Mapped[float | None] = mapped_column()
    write_ms: Mapped[float | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)


class ShardInput(Base):
    """The shard's items, compressed, so workers need only the database (no shared filesystem)."""

    __tablename__ = "shard_inputs"

    shard_id: Mapped[int] = mapped_column(ForeignKey("shards.id", ondelete="CASCADE"), primary_key=True)
    codec: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ItemError(Base):
    __tablename__ = "item_errors"
    # One terminal error per item: a redelivered shard cannot add a second.
    __table_args__ = (UniqueConstraint("job_id", "item_index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    shard_id: Mapped[int | None] = mapped_column(ForeignKey("shards.id", ondelete="CASCADE"), index=True)
    item_index: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str | None] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(Text)


class Provenance(Base):
    __tablename__ = "provenance"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    shard_id: Mapped[int] = mapped_column(ForeignKey("shards.id", ondelete="CASCADE"), unique=True)
    code_version: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str] = mapped_column(String(64))
    package_versions: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    input_sha256: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    device: Mapped[str] = mapped_column(String(64))
    timings: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # Every model that contributed when there is more than one (screening: ADMET-AI + a user model), each with
    # name, version and sha256; model_* above then describe the combination.
    components: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Append-only: the code never updates or deletes these rows, and triggers (migration 0004) make the
    database refuse UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_project_created", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    token_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["ApiToken", "Artifact", "AuditEvent", "ItemError", "Job", "Project", "Provenance", "Shard"]
