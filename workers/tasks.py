"""Celery tasks: thin, explicitly named, idempotent. Decisions live in workers/services."""

from __future__ import annotations

import logging
import random
import uuid
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DBAPIError, OperationalError

from core.enums import ItemErrorCode
from core.errors import TransientError
from core.settings import get_settings
from workers.celery_app import get_app
from workers.dispatch import INGEST_TASK, SCREENING_EXPORT_TASK, SHARD_TASK
from workers.services import ingest, shard_runner

log = logging.getLogger(__name__)
app = get_app()

_TRANSIENT: tuple[type[BaseException], ...] = (OperationalError, TransientError, BrokerError, ConnectionError)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    # A dropped connection surfaces as DBAPIError with connection_invalidated set.
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _backoff(retries: int) -> float:
    # Exponential with "equal" jitter (half fixed, half random), never in (0, 1) s, which Celery's native delayed
    # delivery refuses. The fixed half gives the retries a guaranteed budget: with transient_retry_max=10, 160-310 s,
    # enough for a PostgreSQL restart or failover. With full jitter and 5 retries it could be as little as ~5 s,
    # after which the shard waited for the sweeper (a running one up to the abandoned threshold, 26 min).
    step = min(60.0, 2.0**retries)
    return 1.0 + step / 2 + random.uniform(0, step / 2)


@app.task(name=INGEST_TASK, bind=True, acks_late=True)
def ingest_task(self: Task, job_id: str) -> str:
    try:
        outcome = ingest.ingest_job(uuid.UUID(job_id))
    except Exception as exc:
        if _is_transient(exc):
            log.warning("ingest hit a transient error; retrying", extra={"job_id": job_id})
            raise self.retry(
                exc=exc, countdown=_backoff(self.request.retries), max_retries=get_settings().transient_retry_max
            ) from exc
        raise
    log.info("ingest: %s", outcome, extra={"job_id": job_id})
    return outcome


class _ShardTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # Celery calls this in the worker's main process when the hard time limit killed the child. The message is
        # acked (acks_on_failure_or_timeout), so without this the shard would sit `running` until the sweeper's
        # abandoned threshold and then run (and be killed) again, up to max_shard_attempts. Its items get TIMEOUT
        # now and the job goes on; if the database is down, the sweeper's path is the fallback.
        if not isinstance(exc, TimeLimitExceeded) or not args:
            return
        try:
            shard_runner.fail_shard(
                int(args[0]), ItemErrorCode.TIMEOUT, f"shard exceeded the hard time limit ({exc.args[0]} s)"
            )
        except Exception:
            log.warning("could not record the time-out of shard %s", args[0], exc_info=True)


@app.task(name=SHARD_TASK, bind=True, acks_late=True, base=_ShardTask)
def shard_task(self: Task, shard_id: int) -> str:
    worker = str(self.request.hostname or "unknown")
    try:
        outcome = shard_runner.run_shard(int(shard_id), worker)
    except SoftTimeLimitExceeded:
        # The soft limit fires first (a signal the pipeline sees between calls): the shard's items end as TIMEOUT,
        # not as a generic PROCESSING_ERROR, and it is not retried (it would only time out again).
        log.warning("shard exceeded the soft time limit", extra={"shard_id": shard_id})
        limit = get_settings().task_soft_time_limit_s
        shard_runner.fail_shard(int(shard_id), ItemErrorCode.TIMEOUT, f"shard exceeded the time limit ({limit} s)")
        return "timeout"
    except Exception as exc:
        if _is_transient(exc):
            log.warning("shard hit a transient error; retrying", extra={"shard_id": shard_id})
            _safe_note(shard_id, f"{type(exc).__name__}: {exc}")
            raise self.retry(
                exc=exc, countdown=_backoff(self.request.retries), max_retries=get_settings().transient_retry_max
            ) from exc
        # A pipeline that raises on the whole batch is a bug or a poison input: retrying cannot help. Every item
        # of the shard gets a terminal error and the rest of the job goes on.
        log.exception("shard failed permanently", extra={"shard_id": shard_id})
        shard_runner.fail_shard(int(shard_id), ItemErrorCode.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    log.debug("shard: %s", outcome, extra={"shard_id": shard_id})
    return outcome


@app.task(name=SCREENING_EXPORT_TASK, bind=True, acks_late=True)
def screening_export_task(self: Task, export_id: str) -> str:
    # RDKit loads only in workers that run an export; the claim in run_export makes a redelivery a no-op.
    from workers.screening.export_sdf import run_export

    try:
        return run_export(uuid.UUID(export_id))
    except Exception as exc:
        if _is_transient(exc):
            raise self.retry(
                exc=exc, countdown=_backoff(self.request.retries), max_retries=get_settings().transient_retry_max
            ) from exc
        raise


def _safe_note(shard_id: Any, message: str) -> None:
    try:
        shard_runner.note_shard_error(int(shard_id), message)
    except Exception:  # the database may be the thing that is down
        log.debug("could not note shard error", exc_info=True)
