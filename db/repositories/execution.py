"""Worker-side queries: claiming shards, writing results, counting progress, finding work to re-dispatch.

Every state change here is a conditional UPDATE guarded by the current status, so a redelivered or duplicated
task finds nothing to change and becomes a no-op. Counters move in the same transaction as the rows they count.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import JSON, func, insert, select, update
from sqlalchemy.orm import Session

from core.enums import JobStatus, ShardStatus
from db.base import Base, utcnow
from db.models import ItemError, Job, Provenance, Shard, ShardInput

_OPEN_SHARD = (ShardStatus.queued.value, ShardStatus.running.value)
_OPEN_JOB = (JobStatus.queued.value, JobStatus.ingesting.value, JobStatus.running.value)


def lock_job(session: Session, job_id: uuid.UUID) -> Job | None:
    """Row lock on Postgres; SQLite serializes writers anyway."""
    return session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()


def get_job(session: Session, job_id: uuid.UUID) -> Job | None:
    return session.get(Job, job_id)


def existing_shard_indexes(session: Session, job_id: uuid.UUID, lo: int, hi: int) -> set[int]:
    rows = session.execute(
        select(Shard.index).where(Shard.job_id == job_id, Shard.index >= lo, Shard.index < hi)
    ).scalars()
    return set(rows)


def add_shard(
    session: Session,
    job_id: uuid.UUID,
    index: int,
    item_start: int,
    item_count: int,
    codec: str,
    digest: str,
    data: bytes,
) -> int:
    shard = Shard(job_id=job_id, index=index, item_start=item_start, item_count=item_count, status="queued")
    session.add(shard)
    session.flush()
    session.add(ShardInput(shard_id=shard.id, codec=codec, sha256=digest, data=data))
    return shard.id


def mark_shards_dispatched(session: Session, shard_ids: Sequence[int], now: datetime) -> None:
    if shard_ids:
        session.execute(update(Shard).where(Shard.id.in_(shard_ids)).values(dispatched_at=now))


def mark_ingest_dispatched(session: Session, job_id: uuid.UUID, now: datetime) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(ingest_dispatched_at=now))


def lock_shard(session: Session, shard_id: int) -> Shard | None:
    return session.execute(select(Shard).where(Shard.id == shard_id).with_for_update()).scalar_one_or_none()


def shard_input(session: Session, shard_id: int) -> ShardInput | None:
    return session.get(ShardInput, shard_id)


def close_shard(session: Session, shard_id: int, status: ShardStatus, **values: Any) -> bool:
    """Move an open shard to a terminal state. False if it was already closed (a duplicate execution)."""
    result = session.execute(
        update(Shard)
        .where(Shard.id == shard_id, Shard.status.in_(_OPEN_SHARD))
        .values(status=status.value, finished_at=utcnow(), **values)
        .returning(Shard.id)
    )
    return result.first() is not None


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the caller's transaction. On Postgres through COPY (several times faster than
    batched INSERTs for result-sized batches); elsewhere an executemany."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        table = model.__table__.name  # type: ignore[attr-defined]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        quoted = ", ".join(f'"{c}"' for c in columns)
        # COPY needs JSON values wrapped; which columns are JSON is known from the table, not guessed per value.
        json_at = [i for i, c in enumerate(columns) if isinstance(model.__table__.c[c].type, JSON)]  # type: ignore[attr-defined]
        with cursor.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                values = [row[c] for c in columns]
                for i in json_at:
                    if values[i] is not None:
                        values[i] = Jsonb(values[i])
                copy.write_row(values)
        return
    session.execute(insert(model), rows)


def add_item_errors(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk_insert(session, ItemError, rows)


def add_provenance(session: Session, row: dict[str, Any]) -> None:
    session.add(Provenance(**row))


def count_shard_done(session: Session, job_id: uuid.UUID, succeeded: int, failed: int) -> tuple[int, int | None, str]:
    """Add one finished shard to the job's counters; returns (shards_done, shards_total, status) after the update."""
    row = session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            items_succeeded=Job.items_succeeded + succeeded,
            items_failed=Job.items_failed + failed,
            shards_done=Job.shards_done + 1,
            updated_at=utcnow(),
        )
        .returning(Job.shards_done, Job.shards_total, Job.status)
    ).one()
    return int(row[0]), row[1], str(row[2])


def finish_job_if_complete(session: Session, job_id: uuid.UUID) -> bool:
    """Exactly-once completion: only the transaction that sees every shard done moves the job to succeeded."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.status == JobStatus.running.value,
            Job.shards_total.is_not(None),
            Job.shards_done >= Job.shards_total,
        )
        .values(status=JobStatus.succeeded.value, finished_at=utcnow(), updated_at=utcnow())
        .returning(Job.id)
    )
    return result.first() is not None


def fail_job(session: Session, job_id: uuid.UUID, code: str, message: str) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(_OPEN_JOB))
        .values(
            status=JobStatus.failed.value,
            error_code=code,
            error_message=message,
            finished_at=utcnow(),
            updated_at=utcnow(),
        )
        .returning(Job.id)
    )
    if result.first() is None:
        return False
    session.execute(
        update(Shard)
        .where(Shard.job_id == job_id, Shard.status == ShardStatus.queued.value)
        .values(status=ShardStatus.cancelled.value, finished_at=utcnow())
    )
    return True


def shard_status_counts(session: Session, job_id: uuid.UUID) -> dict[str, int]:
    rows = session.execute(
        select(Shard.status, func.count()).where(Shard.job_id == job_id).group_by(Shard.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


# ---- sweeper queries -------------------------------------------------------------------------------------------


def jobs_needing_ingest(session: Session, dispatched_before: datetime, stale_before: datetime, limit: int) -> list[Job]:
    """Queued jobs never published (outbox), and ingests that stopped making progress."""
    stmt = (
        select(Job)
        .where(
            (
                (Job.status == JobStatus.queued.value)
                & (Job.ingest_dispatched_at.is_(None))
                & (Job.created_at < dispatched_before)
            )
            | (Job.status.in_((JobStatus.queued.value, JobStatus.ingesting.value)) & (Job.updated_at < stale_before))
        )
        .order_by(Job.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def shards_to_dispatch(
    session: Session,
    *,
    undispatched_before: datetime,
    lost_before: datetime | None,
    abandoned_before: datetime,
    limit: int,
) -> list[tuple[int, str, str]]:
    """(shard id, domain, device) for shards with no confirmed message, presumed lost, or abandoned while running."""
    cond = (
        (Shard.status == ShardStatus.queued.value)
        & Shard.dispatched_at.is_(None)
        & (Shard.created_at < undispatched_before)
    ) | ((Shard.status == ShardStatus.running.value) & (Shard.started_at < abandoned_before))
    if lost_before is not None:
        cond = cond | ((Shard.status == ShardStatus.queued.value) & (Shard.dispatched_at < lost_before))
    stmt = (
        select(Shard.id, Job.domain, Job.device)
        .join(Job, Job.id == Shard.job_id)
        .where(cond, Job.status.in_(_OPEN_JOB))
        .order_by(Shard.id)
        .limit(limit)
        .with_for_update(of=Shard, skip_locked=True)
    )
    return [(int(a), str(b), str(c)) for a, b, c in session.execute(stmt).all()]


def touch_job(session: Session, job_id: uuid.UUID) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(updated_at=utcnow()))


def stale_cutoff(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


def set_shard_write_ms(session: Session, shard_id: int, ms: float) -> None:
    session.execute(update(Shard).where(Shard.id == shard_id).values(write_ms=ms))


def set_shard_error(session: Session, shard_id: int, message: str) -> None:
    session.execute(update(Shard).where(Shard.id == shard_id).values(error=message))


def undispatched_shards(session: Session, ids: Sequence[int]) -> list[int]:
    rows = session.execute(select(Shard.id).where(Shard.id.in_(ids), Shard.dispatched_at.is_(None))).scalars()
    return [int(x) for x in rows]
