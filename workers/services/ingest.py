"""Ingest: stream a job's stored input in constant memory and cut it into shards.

Shards are committed and published in groups, so processing overlaps a long ingest. A re-run after a crash
re-parses the same input (item order is deterministic) and skips shards that already exist; two concurrent
runs serialize on the job row lock and each creates only what is missing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from core.artifacts import artifact_path
from core.enums import JobStatus
from core.errors import MedsieveError
from core.settings import get_settings
from db.base import utcnow
from db.repositories import execution as repo
from db.session import unit_of_work
from workers.dispatch import publish_shards
from workers.domains import get_plugin
from workers.plugin import Item
from workers.services.codec import CODEC, encode_items
from workers.services.completion import complete_if_done

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _JobView:
    id: uuid.UUID
    domain: str
    device: str
    parameters: dict
    input_sha256: str
    input_format: str


class _Stop(Exception):
    """The job left the ingesting state (cancelled or failed elsewhere)."""


def ingest_job(job_id: uuid.UUID) -> str:
    settings = get_settings()
    with unit_of_work() as session:
        job = repo.lock_job(session, job_id)
        if job is None:
            return "missing"
        if job.status not in (JobStatus.queued.value, JobStatus.ingesting.value):
            return "not-ingestable"
        job.status = JobStatus.ingesting.value
        job.started_at = job.started_at or utcnow()
        job.updated_at = utcnow()
        view = _JobView(job.id, job.domain, job.device, dict(job.parameters), job.input_sha256, job.input_format)

    plugin = get_plugin(view.domain)
    params = plugin.params_model.model_validate(view.parameters)
    path = artifact_path(settings.resolved_artifact_dir, view.input_sha256)
    if not path.is_file():
        return _fail(job_id, "INPUT_MISSING", "the stored input file is missing from the artifact directory")

    shard_size = plugin.shard_size or settings.shard_size
    pending: list[list[Item]] = []
    batch: list[Item] = []
    n_items = 0
    n_shards = 0
    try:
        for item in plugin.iter_items(path, view.input_format, params):
            if n_items >= settings.max_items_per_job:
                return _fail(job_id, "ITEM_LIMIT", f"input has more than {settings.max_items_per_job} items")
            batch.append(item)
            n_items += 1
            if len(batch) == shard_size:
                pending.append(batch)
                batch = []
                if len(pending) >= settings.ingest_commit_shards:
                    _flush(view, n_shards, pending)
                    n_shards += len(pending)
                    pending = []
        if batch:
            pending.append(batch)
        if pending:
            _flush(view, n_shards, pending)
            n_shards += len(pending)
    except _Stop:
        return "stopped"
    except MedsieveError as exc:  # input-level problem found while streaming (binary, wrong columns)
        return _fail(job_id, exc.code, exc.message)
    except UnicodeDecodeError as exc:
        return _fail(job_id, "INVALID_INPUT", f"input is not valid text: {exc.reason}")

    if n_items == 0:
        return _fail(job_id, "EMPTY_INPUT", "the input contains no records")
    _seal(job_id, n_items, n_shards)
    return "ingested"


def _flush(view: _JobView, first_index: int, batches: list[list[Item]]) -> None:
    created: list[int] = []
    with unit_of_work() as session:
        job = repo.lock_job(session, view.id)
        if job is None or job.status != JobStatus.ingesting.value:
            raise _Stop()
        existing = repo.existing_shard_indexes(session, view.id, first_index, first_index + len(batches))
        for offset, items in enumerate(batches):
            index = first_index + offset
            if index in existing:
                continue
            data, digest = encode_items(items)
            created.append(repo.add_shard(session, view.id, index, items[0].index, len(items), CODEC, digest, data))
        job.shards_created = max(job.shards_created, first_index + len(batches))
        job.items_ingested = max(job.items_ingested, batches[-1][-1].index + 1)
        job.updated_at = utcnow()
    # Published only after the rows are committed; an unconfirmed publish leaves dispatched_at NULL for the sweeper.
    sent = publish_shards(view.domain, view.device, created)
    if sent:
        with unit_of_work() as session:
            repo.mark_shards_dispatched(session, sent, utcnow())


def _seal(job_id: uuid.UUID, n_items: int, n_shards: int) -> None:
    """Record the totals; if every shard already finished, this transaction completes the job."""
    with unit_of_work() as session:
        job = repo.lock_job(session, job_id)
        if job is None or job.status != JobStatus.ingesting.value:
            return
        job.items_total = n_items
        job.shards_total = n_shards
        job.status = JobStatus.running.value
        job.updated_at = utcnow()
        session.flush()
        if complete_if_done(session, job_id):
            log.info("job finished at ingest seal", extra={"job_id": job_id})


def _fail(job_id: uuid.UUID, code: str, message: str) -> str:
    with unit_of_work() as session:
        repo.fail_job(session, job_id, code, message)
    log.warning("ingest failed: %s", code, extra={"job_id": job_id})
    return f"failed:{code}"
