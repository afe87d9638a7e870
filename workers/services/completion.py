"""Completing a job: one place for both paths that can see the last shard done (a shard commit, or the ingest
seal when every shard finished before the totals were known)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from db.repositories import execution as repo
from workers.domains import get_plugin


def complete_if_done(session: Session, job_id: uuid.UUID) -> bool:
    """Moves a running job whose shards are all done to succeeded and runs its domain's job-level checks in
    the same transaction; exactly one transaction ever gets True."""
    if not repo.finish_job_if_complete(session, job_id):
        return False
    job = repo.get_job(session, job_id)
    if job is not None:
        get_plugin(job.domain).finalize_job(session, job_id)
    return True
