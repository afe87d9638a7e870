"""Aggregate reads for metrics and the dashboard: recent shard timings, item errors by code. Each is one
bounded query; none scans a result table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.enums import ShardStatus
from db.models import ItemError, Job, Shard


@dataclass(frozen=True)
class ShardTiming:
    domain: str
    item_count: int
    dispatched_at: datetime | None
    started_at: datetime | None
    finished_at: datetime


def recent_shards(
    session: Session, *, finished_after: datetime, dispatched_after: datetime, limit: int
) -> list[ShardTiming]:
    """Shards that succeeded since `finished_after`. The `dispatched_after` bound (the window plus the longest
    a shard may run) lets the (status, dispatched_at) index find them without reading every shard ever run."""
    rows = session.execute(
        select(Job.domain, Shard.item_count, Shard.dispatched_at, Shard.started_at, Shard.finished_at)
        .join(Job, Job.id == Shard.job_id)
        .where(
            Shard.status == ShardStatus.succeeded.value,
            Shard.dispatched_at >= dispatched_after,
            Shard.finished_at >= finished_after,
        )
        .order_by(Shard.finished_at.desc())
        .limit(limit)
    ).all()
    return [ShardTiming(d, int(n), disp, start, end) for d, n, disp, start, end in rows if end is not None]


def error_counts(session: Session, job_id: uuid.UUID) -> dict[str, int]:
    rows = session.execute(
        select(ItemError.code, func.count()).where(ItemError.job_id == job_id).group_by(ItemError.code)
    ).all()
    return {str(code): int(n) for code, n in sorted(rows, key=lambda r: (-int(r[1]), str(r[0])))}
