"""Publishing a new job's ingest message, after the transaction that created the job has committed.

The job row is the outbox: `ingest_dispatched_at IS NULL` means no confirmed publish yet, and the sweeper
publishes such jobs later. So a broker outage costs latency, never a job, and never a 5xx on submit.
"""

from __future__ import annotations

import logging
import uuid

from db.base import utcnow
from db.repositories import jobs as jobs_repo
from db.session import unit_of_work
from workers.dispatch import publish_ingest

log = logging.getLogger(__name__)


def dispatch_ingest(job_id: uuid.UUID, domain: str) -> bool:
    """Returns True when the broker confirmed the message. Never raises: it runs after the response."""
    try:
        publish_ingest(job_id, domain)
    except Exception as exc:
        log.warning(
            "ingest publish failed (%s); the sweeper will publish it", type(exc).__name__, extra={"job_id": job_id}
        )
        return False
    try:
        with unit_of_work() as session:
            jobs_repo.mark_ingest_dispatched(session, job_id, utcnow())
    except Exception as exc:
        # The message is out; a second publish by the sweeper is harmless because ingest is idempotent.
        log.warning("could not record the ingest publish (%s)", type(exc).__name__, extra={"job_id": job_id})
    return True
