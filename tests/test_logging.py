"""Structured logs: JSON lines carry the job, shard and task ids bound by the worker for each task, and only ids
(the context refuses any other field, so a file name or an item cannot ride along)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from core.logging import (
    ContextFilter,
    JsonFormatter,
    TextFormatter,
    add_log_context,
    clear_log_context,
    log_context,
    set_log_context,
)


@pytest.fixture()
def capture() -> Iterator[tuple[logging.Logger, io.StringIO, logging.StreamHandler[io.StringIO]]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    logger = logging.getLogger(f"test.logging.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)
    clear_log_context()


def _lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_task_context(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    set_log_context(task_id="t-1", shard_id=42, filename="DOE_JOHN.zip", smiles="CCO")
    add_log_context(job_id="3f2a", domain="triage")
    logger.info("shard done")
    logger.info("explicit wins", extra={"shard_id": 7})
    clear_log_context()
    logger.info("outside a task")
    first, second, third = _lines(stream)
    assert first["msg"] == "shard done" and first["level"] == "INFO"
    assert {k: first[k] for k in ("task_id", "shard_id", "job_id", "domain")} == {
        "task_id": "t-1",
        "shard_id": "42",
        "job_id": "3f2a",
        "domain": "triage",
    }
    assert "filename" not in first and "smiles" not in first and "DOE_JOHN" not in json.dumps(first)
    assert second["shard_id"] == "7"
    assert "shard_id" not in third and "job_id" not in third


def test_log_context_manager_restores_the_outer_context(capture) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = capture
    handler.setFormatter(TextFormatter())
    with log_context(job_id="j1"):
        with log_context(shard_id=3):
            logger.info("inner")
        logger.info("outer")
    logger.info("none")
    inner, outer, none = stream.getvalue().splitlines()
    assert "[job_id=j1 shard_id=3]: inner" in inner
    assert "[job_id=j1]: outer" in outer
    assert none.endswith(": none") and "[" not in none


def test_celery_task_signals_bind_ids(capture) -> None:  # type: ignore[no-untyped-def]
    from workers import logcontext
    from workers.dispatch import INGEST_TASK, SHARD_TASK

    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())

    class FakeTask:
        def __init__(self, name: str) -> None:
            self.name = name

    logcontext._bind(task_id="abc", task=FakeTask(SHARD_TASK), args=(17,))
    logger.info("in shard")
    logcontext._unbind()
    logcontext._bind(task_id="def", task=FakeTask(INGEST_TASK), args=("job-9",))
    logger.info("in ingest")
    logcontext._unbind()
    logger.info("after")
    shard, ingest, after = _lines(stream)
    assert (shard["task_id"], shard["shard_id"]) == ("abc", "17") and "job_id" not in shard
    assert (ingest["task_id"], ingest["job_id"]) == ("def", "job-9") and "shard_id" not in ingest
    assert "task_id" not in after


def test_log_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    monkeypatch.delenv("MEDSIEVE_LOG_JSON", raising=False)
    monkeypatch.setenv("MEDSIEVE_LOG_FORMAT", "json")
    assert Settings().json_logs
    monkeypatch.setenv("MEDSIEVE_LOG_FORMAT", "text")
    assert not Settings().json_logs
    monkeypatch.setenv("MEDSIEVE_LOG_JSON", "true")
    assert Settings().json_logs
