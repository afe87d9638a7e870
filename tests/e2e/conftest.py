"""Fixtures of the full-stack tests: one API + worker stack per module (process start-up is the slow part), a
fresh project name per test, and the 100k-compound library written once per session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Stack, running_stack

LIBRARY_ROWS = 100_000


@pytest.fixture(scope="module")
def stack(pg_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A `medsieve serve` process with a real broker URL (so no embedded worker) and one prefork worker with
    concurrency 2, sharing the session's Postgres database and RabbitMQ vhost."""
    with running_stack(pg_url, amqp_url, tmp_path_factory.mktemp("e2e-stack")) as s:
        yield s


@pytest.fixture()
def project(request: pytest.FixtureRequest) -> str:
    """A project name of its own for each test: the database is shared by the whole session."""
    return f"e2e-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def library_100k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.libraries import write_library

    return write_library(tmp_path_factory.mktemp("libraries") / "nci-100k.smi.gz", LIBRARY_ROWS)
