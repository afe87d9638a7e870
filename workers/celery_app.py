"""The Celery app: queues, reliability settings and routing. Light enough for the API to import.

Broker facts behind these settings are in ../shared/DESIGN.md ("Broker facts verified by running them").
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from core.enums import Device, Domain
from core.settings import Settings, get_settings

EXCHANGE = Exchange("medsieve", type="topic", durable=True)  # topic: native delayed retries on quorum queues
DLX_NAME = "medsieve.dlx"
DLQ_NAME = "medsieve.dlq"


def queue_name(domain: str, device: str) -> str:
    return f"{domain}.{device}"


def all_queue_names() -> list[str]:
    return [queue_name(d.value, dev.value) for d in Domain for dev in Device]


def _queue_arguments(settings: Settings) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        # Above our own attempt guard (max_shard_attempts), so the DB marks a poison shard failed first and
        # the dead-letter queue only catches messages that never reached the guard.
        "x-delivery-limit": settings.queue_delivery_limit,
        "x-dead-letter-exchange": DLX_NAME,
        "x-dead-letter-strategy": "at-least-once",
        # Without reject-publish RabbitMQ silently falls back to at-most-once dead-lettering.
        "x-overflow": "reject-publish",
    }


def build_queues(settings: Settings) -> list[Queue]:
    args = _queue_arguments(settings)
    return [
        Queue(name, exchange=EXCHANGE, routing_key=name, durable=True, queue_arguments=args)
        for name in all_queue_names()
    ]


def configure(app: Celery, settings: Settings) -> None:
    amqp = settings.resolved_broker_url.startswith(("amqp", "pyamqp"))
    app.conf.update(
        broker_url=settings.resolved_broker_url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True} if amqp else {"polling_interval": 0.001},
        # No result backend: job state lives in our tables.
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Failures are recorded in our tables by the task itself; an exception escaping that is a bug and is
        # acked rather than looped on.
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_detect_quorum_queues=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_time_limit=settings.task_time_limit_s,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_queues=build_queues(settings),
        task_default_queue=queue_name(Domain.screening.value, Device.cpu.value),
        task_default_exchange=EXCHANGE.name,
        task_default_exchange_type=EXCHANGE.type,
        task_create_missing_queues=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        # Models stay resident, but recycle children now and then to bound slow leaks.
        worker_max_tasks_per_child=settings.worker_max_tasks_per_child,
    )


def create_app(settings: Settings | None = None) -> Celery:
    app = Celery("medsieve", set_as_current=False)
    configure(app, settings or get_settings())
    return app


_app: Celery | None = None


def get_app() -> Celery:
    """The process-wide app; built lazily so settings can be set before first use (CLI, tests)."""
    global _app
    if _app is None:
        _app = create_app()
    return _app


def reset_app() -> None:
    global _app
    _app = None


def declare_topology(app: Celery) -> None:
    """Declare every work queue, the DLX and its quorum DLQ.

    All work queues, not just the consumed ones: Celery's native delayed delivery (retries with a countdown on
    quorum queues) binds every queue in task_queues at worker start and fails for undeclared ones. The DLQ is
    declared outside task_queues so that no worker consumes it by accident.
    """
    if not str(app.conf.broker_url).startswith(("amqp", "pyamqp")):
        return
    dlx = Exchange(DLX_NAME, type="fanout", durable=True)
    dlq = Queue(DLQ_NAME, exchange=dlx, routing_key="#", durable=True, queue_arguments={"x-queue-type": "quorum"})
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in [*app.conf.task_queues, dlq]:
            queue.bind(channel).declare()
