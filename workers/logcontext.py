"""Binds each task's ids to the log context (core/logging.py) for the task's duration, so every log line of a
task, Celery's own included, carries them. Task arguments are ids only (the broker never carries item data)."""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun

from core.logging import clear_log_context, set_log_context
from workers.dispatch import INGEST_TASK, SHARD_TASK

_connected = False


def _bind(task_id: str | None = None, task: Any = None, args: Any = None, **_: Any) -> None:
    name = getattr(task, "name", "")
    first = args[0] if args else None
    set_log_context(
        task_id=task_id,
        shard_id=first if name == SHARD_TASK else None,
        job_id=first if name == INGEST_TASK else None,
    )


def _unbind(**_: Any) -> None:
    clear_log_context()


def connect() -> None:
    """Idempotent; called where workers start (standalone and embedded)."""
    global _connected
    if _connected:
        return
    task_prerun.connect(_bind, weak=False)
    task_postrun.connect(_unbind, weak=False)
    _connected = True
