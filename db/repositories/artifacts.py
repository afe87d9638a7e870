"""Stored inputs that identify patients, found for purging once no open job reads them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from core.enums import JobStatus
from db.models import Artifact, Job

_TERMINAL = (JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.cancelled.value)


def lock_purgeable(session: Session, domains: Sequence[str], limit: int) -> list[str]:
    """Artifacts read by a job of `domains`, not yet purged, with every job that reads them ended. Locked for
    the caller's transaction (SKIP LOCKED: a submission upserting the same row waits for us, or we skip it)."""
    open_job = exists().where(Job.input_sha256 == Artifact.sha256, Job.status.not_in(_TERMINAL))
    identifiable = exists().where(Job.input_sha256 == Artifact.sha256, Job.domain.in_(list(domains)))
    stmt = (
        select(Artifact.sha256)
        .where(Artifact.purged_at.is_(None), identifiable, ~open_job)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(stmt).scalars())


def mark_purged(session: Session, shas: Sequence[str], now: datetime) -> None:
    session.execute(update(Artifact).where(Artifact.sha256.in_(list(shas))).values(purged_at=now))
