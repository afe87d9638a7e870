"""Job queries for the API. Every lookup takes the caller's project id: a job of another project is simply not
found, which is how the API avoids leaking that it exists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.enums import JobStatus, ShardStatus
from db.models import Artifact, Job, Shard


def get_for_project(
    session: Session, project_id: uuid.UUID, job_id: uuid.UUID, *, for_update: bool = False
) -> Job | None:
    stmt = select(Job).where(Job.id == job_id, Job.project_id == project_id)
    if for_update:
        stmt = stmt.with_for_update()  # row lock on Postgres; SQLite serializes writers anyway
    return session.execute(stmt).scalar_one_or_none()


def get_by_idempotency_key(session: Session, project_id: uuid.UUID, key: str) -> Job | None:
    return session.execute(
        select(Job).where(Job.project_id == project_id, Job.idempotency_key == key)
    ).scalar_one_or_none()


def ensure_artifact(session: Session, sha256: str, size_bytes: int) -> None:
    """Content-addressed: the same bytes uploaded twice (or concurrently) share one row. The upsert also takes
    the row lock, which serializes a submission with the sweeper purging the same bytes (see artifacts repo)."""
    values = {"sha256": sha256, "size_bytes": size_bytes}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Artifact).values(values)
    session.execute(stmt.on_conflict_do_update(index_elements=[Artifact.sha256], set_={"purged_at": None}))


def add(session: Session, job: Job) -> Job:
    session.add(job)
    session.flush()
    return job


@dataclass(frozen=True)
class JobFilters:
    status: str | None = None
    domain: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def list_page(
    session: Session,
    project_id: uuid.UUID,
    filters: JobFilters,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Job]:
    """Newest first; keyset on (created_at, id) so pages never shift when new jobs arrive."""
    stmt: Select[Job] = select(Job).where(Job.project_id == project_id)
    if filters.status is not None:
        stmt = stmt.where(Job.status == filters.status)
    if filters.domain is not None:
        stmt = stmt.where(Job.domain == filters.domain)
    if filters.created_after is not None:
        stmt = stmt.where(Job.created_at >= filters.created_after)
    if filters.created_before is not None:
        stmt = stmt.where(Job.created_at < filters.created_before)
    if after is not None:
        stmt = stmt.where(tuple_(Job.created_at, Job.id) < tuple_(*after))
    stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list(session.execute(stmt).scalars())


def shard_status_counts(session: Session, job_id: uuid.UUID) -> dict[str, int]:
    rows = session.execute(
        select(Shard.status, func.count()).where(Shard.job_id == job_id).group_by(Shard.status)
    ).all()
    return {status: int(count) for status, count in rows}


def cancel(session: Session, job: Job, now: datetime) -> int:
    """Marks the (locked) job cancelled and its queued shards with it; returns how many shards were cancelled.
    Running shards are left alone: the worker re-reads the job status and stops itself."""
    job.status = JobStatus.cancelled.value
    job.finished_at = now
    job.updated_at = now
    result = session.execute(
        update(Shard)
        .where(Shard.job_id == job.id, Shard.status == ShardStatus.queued.value)
        .values(status=ShardStatus.cancelled.value, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def mark_ingest_dispatched(session: Session, job_id: uuid.UUID, now: datetime) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.ingest_dispatched_at.is_(None))
        .values(ingest_dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True)
class StateSummary:
    domain: str
    status: str
    jobs: int
    items_succeeded: int
    items_failed: int


def state_summary(session: Session) -> list[StateSummary]:
    """One GROUP BY over jobs for the metrics scrape (jobs are few compared with items)."""
    rows = session.execute(
        select(
            Job.domain,
            Job.status,
            func.count(),
            func.coalesce(func.sum(Job.items_succeeded), 0),
            func.coalesce(func.sum(Job.items_failed), 0),
        ).group_by(Job.domain, Job.status)
    ).all()
    return [StateSummary(d, s, int(n), int(ok), int(bad)) for d, s, n, ok, bad in rows]
