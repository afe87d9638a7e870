"""Job reads and cancel, always scoped by the caller's project."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from api.errors import InvalidCursor
from api.schemas import JobCounts, JobDetail, JobList, JobSummary, ShardCounts
from api.services import cursors
from core.enums import AuditAction, JobStatus
from core.errors import Conflict, NotFound
from db.base import utcnow
from db.models import Job
from db.repositories import audit
from db.repositories import jobs as jobs_repo

MAX_LIST_LIMIT = 200


def get_job(session: Session, project_id: uuid.UUID, job_id: uuid.UUID, *, for_update: bool = False) -> Job:
    job = jobs_repo.get_for_project(session, project_id, job_id, for_update=for_update)
    if job is None:
        # Same answer for "missing" and "another project's": existence must not leak across projects.
        raise NotFound(f"job {job_id} not found")
    return job


def summary(job: Job) -> JobSummary:
    return JobSummary.model_validate(job, from_attributes=True)


def _pending(job: Job) -> int:
    known = job.items_total if job.items_total is not None else job.items_ingested
    return max(0, known - job.items_succeeded - job.items_failed)


def _rates(job: Job, now: datetime) -> tuple[float | None, float | None]:
    """Throughput over the job's running time so far (or its whole run once finished) and the naive ETA."""
    if job.started_at is None:
        return None, None
    end = job.finished_at or now
    elapsed = (end - job.started_at).total_seconds()
    done = job.items_succeeded + job.items_failed
    if elapsed <= 0:
        return None, None
    throughput = done / elapsed
    if JobStatus(job.status).terminal:
        return throughput, 0.0
    if throughput <= 0 or job.items_total is None:
        return throughput, None
    return throughput, _pending(job) / throughput


def detail(session: Session, job: Job) -> JobDetail:
    by_status = jobs_repo.shard_status_counts(session, job.id)
    throughput, eta = _rates(job, utcnow())
    base = summary(job).model_dump()
    return JobDetail(
        **base,
        parameters=job.parameters,
        counts=JobCounts(
            items_total=job.items_total,
            items_ingested=job.items_ingested,
            items_succeeded=job.items_succeeded,
            items_failed=job.items_failed,
            items_pending=_pending(job),
        ),
        shards=ShardCounts(
            total=job.shards_total, created=job.shards_created, done=job.shards_done, by_status=by_status
        ),
        throughput_items_per_s=throughput,
        eta_s=eta,
        updated_at=job.updated_at,
        ingest_dispatched_at=job.ingest_dispatched_at,
    )


def _decode_list_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    payload = cursors.decode(cursor)
    try:
        created = datetime.fromisoformat(payload["t"])
        job_id = uuid.UUID(payload["id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if created.tzinfo is None:
        raise InvalidCursor("malformed cursor")
    return created, job_id


def list_jobs(
    session: Session, project_id: uuid.UUID, filters: jobs_repo.JobFilters, *, cursor: str | None, limit: int
) -> JobList:
    after = _decode_list_cursor(cursor) if cursor else None
    rows = jobs_repo.list_page(session, project_id, filters, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = cursors.encode({"t": last.created_at.isoformat(), "id": str(last.id)})
    return JobList(items=[summary(j) for j in rows], next_cursor=next_cursor)


def cancel_job(session: Session, project_id: uuid.UUID, job_id: uuid.UUID, *, token_id: int | None) -> Job:
    job = get_job(session, project_id, job_id, for_update=True)  # serializes with a finalizing worker
    if JobStatus(job.status).terminal:
        raise Conflict(f"job is already {job.status}", details={"status": job.status})
    previous = job.status
    cancelled_shards = jobs_repo.cancel(session, job, utcnow())
    audit.record(
        session,
        AuditAction.job_cancel.value,
        project_id=project_id,
        token_id=token_id,
        target=f"job:{job.id}",
        details={"previous_status": previous, "shards_cancelled": cancelled_shards},
    )
    return job
