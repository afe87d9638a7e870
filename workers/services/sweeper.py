"""The sweeper: the outbox relay and the safety net.

- Jobs and shards whose message was never confirmed (dispatched_at NULL) are published.
- Queued shards dispatched long ago are published again only if their queue is empty (the message was lost,
  e.g. a broker that lost its data or an embedded process that restarted), so a long backlog is left alone.
- Shards `running` for longer than the hard time limit (+60 s, or `abandoned_after_s`) belong to a dead or stuck
  worker: published again; the next claim counts the attempt, so a shard that keeps dying ends as SHARD_FAILED.
- Messages dead-lettered by RabbitMQ (delivery limit reached) close their shard as failed.
- Stored inputs that identify patients are deleted once every job reading them has ended (services/purge.py).
Duplicated publishes are harmless: every task is idempotent.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from core.enums import ItemErrorCode
from core.settings import get_settings
from db.base import utcnow
from db.repositories import execution as repo
from db.session import unit_of_work
from workers.celery_app import DLQ_NAME, get_app, queue_name
from workers.dispatch import INGEST_TASK, SHARD_TASK, publish_ingest, publish_shards, queue_depth
from workers.services.purge import purge_identifiable_inputs
from workers.services.shard_runner import fail_shard

log = logging.getLogger(__name__)

OUTBOX_GRACE_S = 5.0  # let the submitter's own publish land before the sweeper steps in
BATCH = 500


@dataclass
class SweepReport:
    ingests: int = 0
    shards: int = 0
    dead_lettered: int = 0
    purged: int = 0
    errors: list[str] = field(default_factory=list)


def sweep_once(*, recover_all: bool = False) -> SweepReport:
    """One pass. `recover_all` re-publishes every open shard and job at once (embedded start-up: the in-memory
    queue is empty after a restart, so nothing that was queued before can still be in it)."""
    settings = get_settings()
    report = SweepReport()
    grace = 0.0 if recover_all else OUTBOX_GRACE_S
    with unit_of_work() as session:
        stale_ingest = repo.stale_cutoff(0.0 if recover_all else settings.resolved_abandoned_after_s)
        jobs = repo.jobs_needing_ingest(session, repo.stale_cutoff(grace), stale_ingest, BATCH)
        job_targets = [(j.id, j.domain) for j in jobs]
        for job in jobs:
            repo.touch_job(session, job.id)  # one re-publish per stale period, not one per sweep
    for job_id, domain in job_targets:
        try:
            publish_ingest(job_id, domain)
        except Exception as exc:
            report.errors.append(f"ingest publish: {exc}")
            break
        with unit_of_work() as session:
            repo.mark_ingest_dispatched(session, job_id, utcnow())
        report.ingests += 1

    lost_before = repo.stale_cutoff(0.0 if recover_all else settings.redispatch_after_s)
    with unit_of_work() as session:
        rows = repo.shards_to_dispatch(
            session,
            undispatched_before=repo.stale_cutoff(grace),
            lost_before=lost_before,
            abandoned_before=repo.stale_cutoff(0.0 if recover_all else settings.resolved_abandoned_after_s),
            limit=BATCH,
        )
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for shard_id, domain, device in rows:
        groups[(domain, device)].append(shard_id)
    for (domain, device), ids in groups.items():
        if not recover_all and queue_depth(queue_name(domain, device)) not in (0, None):
            # A backlog exists: only never-dispatched shards are certainly without a message.
            ids = _undispatched(ids)
        sent = publish_shards(domain, device, ids)
        if sent:
            with unit_of_work() as session:
                repo.mark_shards_dispatched(session, sent, utcnow())
        report.shards += len(sent)
    report.dead_lettered = drain_dead_letters()
    report.purged = purge_identifiable_inputs()
    if report.ingests or report.shards or report.dead_lettered:
        log.info("sweep: %s", report)
    return report


def _undispatched(ids: list[int]) -> list[int]:
    with unit_of_work() as session:
        return repo.undispatched_shards(session, ids)


def drain_dead_letters(limit: int = 1000) -> int:
    """Close shards whose messages RabbitMQ dead-lettered; ingest messages fail their job."""
    app = get_app()
    if not str(app.conf.broker_url).startswith(("amqp", "pyamqp")):
        return 0
    handled = 0
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel: Any = conn.default_channel
            try:
                channel.queue_declare(queue=DLQ_NAME, passive=True)
            except Exception:
                return 0  # not declared yet: nothing can have been dead-lettered
            channel = conn.channel()
            for _ in range(limit):
                message = channel.basic_get(queue=DLQ_NAME, no_ack=False)
                if message is None:
                    break
                _handle_dead_letter(message.headers or {}, message.body)
                channel.basic_ack(message.delivery_tag)
                handled += 1
    except Exception:
        log.warning("could not drain the dead-letter queue", exc_info=True)
    return handled


def _handle_dead_letter(headers: dict, body: bytes | str) -> None:
    task = headers.get("task")
    try:
        args = json.loads(body)[0]
    except (ValueError, TypeError, IndexError, KeyError):
        log.warning("unreadable dead-lettered message for task %s", task)
        return
    if task == SHARD_TASK and args:
        fail_shard(int(args[0]), ItemErrorCode.SHARD_FAILED, "message dead-lettered after the broker's delivery limit")
    elif task == INGEST_TASK and args:
        with unit_of_work() as session:
            repo.fail_job(session, uuid.UUID(str(args[0])), "INGEST_FAILED", "ingest kept killing its worker")


class SweeperThread(threading.Thread):
    """Runs sweep_once every sweep_interval_s until stopped. One per worker host or embedded process."""

    def __init__(self, interval: float | None = None, recover_first: bool = False) -> None:
        super().__init__(name="medsieve-sweeper", daemon=True)
        self.interval = interval if interval is not None else get_settings().sweep_interval_s
        self.recover_first = recover_first
        self._stop_event = threading.Event()

    def run(self) -> None:
        first = True
        while not self._stop_event.is_set():
            try:
                sweep_once(recover_all=first and self.recover_first)
            except Exception:
                log.warning("sweep failed; will try again", exc_info=True)
            first = False
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
