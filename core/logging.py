"""Structured logging. Log records carry ids (job, shard, task), never item contents or patient data.

Ids come from `extra={...}` on a call or from the log context, a context variable that the worker binds per task
(`workers/logcontext.py`), so every line a shard writes, Celery's own included, carries its shard and job ids.
Only identifiers go into the context: never a file name, an item key, a SMILES or a DICOM value.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

CONTEXT_FIELDS = ("job_id", "shard_id", "shard_index", "domain", "task_id", "project_id")

_context: ContextVar[dict[str, str]] = ContextVar("medsieve_log_context", default={})  # noqa: B039  (never mutated)


def set_log_context(**fields: object) -> None:
    """Replaces the context (a task's start); None values are dropped."""
    _context.set({k: str(v) for k, v in fields.items() if v is not None and k in CONTEXT_FIELDS})


def add_log_context(**fields: object) -> None:
    """Adds ids to the current context (e.g. the job id once a shard has been claimed)."""
    extra = {k: str(v) for k, v in fields.items() if v is not None and k in CONTEXT_FIELDS}
    _context.set({**_context.get(), **extra})


def clear_log_context() -> None:
    _context.set({})


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context's ids onto each record; an id passed with `extra=` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                payload[field] = str(value)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{f}={getattr(record, f)}" for f in CONTEXT_FIELDS if getattr(record, f, None) is not None)
        record.ids = f" [{ids}]" if ids else ""
        return super().format(record)


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
