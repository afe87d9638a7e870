"""Publishing ids to the broker. The job and shard rows are the outbox: a row whose `dispatched_at` is NULL has
no confirmed message yet, and the sweeper publishes it. Only ids travel; the worker reads everything else from
the database (including the project, which is never taken from a message)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from workers.celery_app import EXCHANGE, get_app, queue_name

INGEST_TASK = "medsieve.ingest"
SHARD_TASK = "medsieve.shard"
SCREENING_EXPORT_TASK = "medsieve.screening.export"

log = logging.getLogger(__name__)

# Keep the API responsive when the broker is down: fail fast, the sweeper retries later.
_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def ingest_queue(domain: str) -> str:
    # Splitting input is CPU work for every domain; GPU hosts only consume GPU queues.
    return queue_name(domain, "cpu")


def _publish_one(task: str, arg: str, queue: str) -> None:
    get_app().send_task(
        task, args=[arg], queue=queue, exchange=EXCHANGE.name, routing_key=queue, retry=True, retry_policy=_RETRY_POLICY
    )


def publish_ingest(job_id: uuid.UUID, domain: str) -> None:
    _publish_one(INGEST_TASK, str(job_id), ingest_queue(domain))


def publish_screening_export(export_id: uuid.UUID) -> None:
    """An SDF export needs RDKit, so a screening CPU worker writes it."""
    _publish_one(SCREENING_EXPORT_TASK, str(export_id), queue_name("screening", "cpu"))


def publish_shards(domain: str, device: str, shard_ids: Iterable[int]) -> list[int]:
    """Publish each shard id; returns those confirmed. Stops at the first failure (the broker is likely down)."""
    queue = queue_name(domain, device)
    app = get_app()
    sent: list[int] = []
    with app.producer_or_acquire() as producer:
        for shard_id in shard_ids:
            try:
                app.send_task(
                    SHARD_TASK,
                    args=[shard_id],
                    queue=queue,
                    exchange=EXCHANGE.name,
                    routing_key=queue,
                    producer=producer,
                    retry=True,
                    retry_policy=_RETRY_POLICY,
                )
            except Exception:
                log.warning("publish of shard %s failed; the sweeper will retry", shard_id, exc_info=True)
                break
            sent.append(shard_id)
    return sent


def queue_depth(queue: str) -> int | None:
    """Ready messages in a queue (None if the broker cannot be asked). Used to tell a long backlog from a lost
    message before re-publishing a shard that has waited long."""
    app = get_app()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel: Any = conn.default_channel
            _name, count, _consumers = channel.queue_declare(queue=queue, passive=True)
            return int(count)
    except Exception:
        return None
