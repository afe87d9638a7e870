"""Run one shard: claim it, run the domain pipeline, write results + errors + provenance in one transaction.

Exactly-once effects under at-least-once delivery: the write transaction first closes the shard with a
conditional UPDATE (open -> succeeded). A duplicate execution finds it closed, changes nothing and returns;
on Postgres a concurrent duplicate blocks on the row lock and then sees it closed. Unique (job_id, item_index)
constraints on results and errors are the second wall.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from core.artifacts import artifact_path
from core.enums import ItemErrorCode, JobStatus, ShardStatus
from core.logging import add_log_context
from core.settings import get_settings
from db.base import utcnow
from db.repositories import execution as repo
from db.session import unit_of_work
from workers import provenance
from workers.domains import get_plugin
from workers.plugin import BatchOutcome, Item, JobContext
from workers.runtime import get_pipeline
from workers.services.codec import decode_items
from workers.services.completion import complete_if_done

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Claim:
    shard_id: int
    job_id: uuid.UUID
    domain: str
    device: str
    parameters: dict[str, Any]
    input_sha256: str
    items: list[Item]
    attempt: int
    project_id: uuid.UUID


def run_shard(shard_id: int, worker: str) -> str:
    claim = _claim(shard_id, worker)
    if isinstance(claim, str):
        return claim
    add_log_context(job_id=claim.job_id, domain=claim.domain)
    plugin = get_plugin(claim.domain)
    params = plugin.params_model.model_validate(claim.parameters)
    t0 = time.perf_counter()
    pipeline = get_pipeline(claim.domain, claim.device)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    context = JobContext(
        claim.job_id, claim.project_id, artifact_path(get_settings().resolved_artifact_dir, claim.input_sha256)
    )
    outcome = pipeline.run(claim.items, params, context)
    compute_s = time.perf_counter() - t1
    return _commit(claim, outcome, plugin.result_model, load_s, compute_s)


def _claim(shard_id: int, worker: str) -> _Claim | str:
    settings = get_settings()
    with unit_of_work() as session:
        shard = repo.lock_shard(session, shard_id)
        if shard is None:
            return "missing"
        if shard.status not in (ShardStatus.queued.value, ShardStatus.running.value):
            return "already-closed"
        job = repo.get_job(session, shard.job_id)
        assert job is not None  # FK
        if job.status in (JobStatus.cancelled.value, JobStatus.failed.value, JobStatus.succeeded.value):
            repo.close_shard(session, shard_id, ShardStatus.cancelled)
            return "job-closed"
        stored = repo.shard_input(session, shard_id)
        assert stored is not None
        items = decode_items(stored.data, stored.codec)
        # The attempt is counted (and committed) before any work, so a shard that kills its worker every time
        # is caught here after max_shard_attempts, whatever the broker's own redelivery count says.
        shard.attempts += 1
        if shard.attempts > settings.max_shard_attempts:
            reason = shard.error or "worker lost or time limit exceeded"
            _fail_items(
                session,
                shard_id,
                job.id,
                items,
                ItemErrorCode.SHARD_FAILED,
                f"shard gave up after {shard.attempts - 1} attempts: {reason}",
            )
            return "exhausted"
        shard.status = ShardStatus.running.value
        shard.started_at = utcnow()
        shard.worker = worker[:255]
        return _Claim(
            shard_id,
            job.id,
            job.domain,
            job.device,
            dict(job.parameters),
            job.input_sha256,
            items,
            shard.attempts,
            job.project_id,
        )


def _commit(claim: _Claim, outcome: BatchOutcome, result_model: Any, load_s: float, compute_s: float) -> str:
    t0 = time.perf_counter()
    with unit_of_work() as session:
        job = repo.lock_job(session, claim.job_id)
        # A job that failed while this shard ran (e.g. ingest hit ITEM_LIMIT after publishing the first shards)
        # is terminal like a cancelled one: its rows and counters must not move any more.
        if job is None or job.status in (JobStatus.cancelled.value, JobStatus.failed.value):
            repo.close_shard(session, claim.shard_id, ShardStatus.cancelled)
            return "cancelled"
        if not repo.close_shard(session, claim.shard_id, ShardStatus.succeeded, compute_ms=compute_s * 1000):
            return "duplicate"
        for row in outcome.results:
            row["job_id"] = claim.job_id
            row["shard_id"] = claim.shard_id
        repo.bulk_insert(session, result_model, outcome.results)
        repo.add_item_errors(
            session,
            [
                {
                    "job_id": claim.job_id,
                    "shard_id": claim.shard_id,
                    "item_index": e.index,
                    "item_key": _cap(e.key, 255),
                    "code": e.code,
                    "message": e.message[:2000],
                }
                for e in outcome.errors
            ],
        )
        write_s = time.perf_counter() - t0
        repo.add_provenance(
            session,
            {
                "job_id": claim.job_id,
                "shard_id": claim.shard_id,
                "code_version": provenance.code_version(),
                "model_name": outcome.model.name,
                "model_version": outcome.model.version,
                "model_sha256": outcome.model.sha256,
                "package_versions": {**provenance.base_packages(), **outcome.packages},
                "parameters": claim.parameters,
                "input_sha256": claim.input_sha256,
                "components": _components(outcome),
                "host": provenance.host(),
                "device": outcome.device,
                "timings": {
                    "model_load_s": round(load_s, 6),
                    "compute_s": round(compute_s, 6),
                    "write_s": round(write_s, 6),
                    "attempt": claim.attempt,
                    **outcome.timings,
                },
            },
        )
        _count_and_finish(session, claim.job_id, len(outcome.results), len(outcome.errors))
        # Shard write time is what the platform adds per shard (the overhead benchmark reads it).
        repo.set_shard_write_ms(session, claim.shard_id, (time.perf_counter() - t0) * 1000)
    return "succeeded"


def fail_shard(shard_id: int, code: ItemErrorCode, message: str) -> bool:
    """Close an open shard as failed and give each of its items a terminal error (dead-letter path)."""
    with unit_of_work() as session:
        shard = repo.lock_shard(session, shard_id)
        if shard is None or shard.status not in (ShardStatus.queued.value, ShardStatus.running.value):
            return False
        stored = repo.shard_input(session, shard_id)
        items = decode_items(stored.data, stored.codec) if stored else []
        return _fail_items(session, shard_id, shard.job_id, items, code, message)


def _fail_items(
    session: Any, shard_id: int, job_id: uuid.UUID, items: list[Item], code: ItemErrorCode, message: str
) -> bool:
    if not repo.close_shard(session, shard_id, ShardStatus.failed, error=message[:2000]):
        return False
    repo.add_item_errors(
        session,
        [
            {
                "job_id": job_id,
                "shard_id": shard_id,
                "item_index": it.index,
                "item_key": _cap(it.key, 255),
                "code": code.value,
                "message": message[:2000],
            }
            for it in items
        ],
    )
    _count_and_finish(session, job_id, 0, len(items))
    return True


def _count_and_finish(session: Any, job_id: uuid.UUID, succeeded: int, failed: int) -> None:
    _done, _total, status = repo.count_shard_done(session, job_id, succeeded, failed)
    if status == JobStatus.running.value and complete_if_done(session, job_id):
        log.info("job succeeded", extra={"job_id": job_id})


def note_shard_error(shard_id: int, message: str) -> None:
    """Remember why an attempt died, for the message the items get if the shard finally gives up."""
    with unit_of_work() as session:
        repo.set_shard_error(session, shard_id, message[:2000])


def _components(outcome: BatchOutcome) -> list[dict[str, str]] | None:
    """Recorded only when several models contributed; a single model is fully described by model_*."""
    if len(outcome.components) < 2:
        return None
    return [dataclasses.asdict(c) for c in outcome.components]


def _cap(value: str | None, n: int) -> str | None:
    return None if value is None else value[:n]


__all__ = ["fail_shard", "note_shard_error", "run_shard"]
