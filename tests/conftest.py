"""Shared fixtures: a fresh real PostgreSQL database and a fresh RabbitMQ vhost per test session.

Tests run against the real services (CI starts them). Outside CI a missing service skips with a reason;
under CI it fails, so a green run always means the real services were exercised.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("MEDSIEVE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
RABBIT_HOST = os.environ.get("MEDSIEVE_TEST_RABBIT_HOST", "127.0.0.1")
IN_CI = bool(os.environ.get("CI"))
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MEDSIEVE_SHARED_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need(service: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    if IN_CI:
        pytest.fail(f"{service} is not reachable at {host}:{port}; .ci/run should have started it")
    pytest.skip(f"{service} is not reachable at {host}:{port}")


def _swap_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A new database migrated to head; dropped at the end of the session."""
    _need("PostgreSQL", "127.0.0.1", 5432)
    from db.migrate import upgrade

    name = f"medsieve_test_{uuid.uuid4().hex[:10]}"
    # pre_ping: the fault tests restart PostgreSQL mid-session (tests/reliability); a pooled connection from before
    # the restart must not fail the final DROP DATABASE.
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _swap_db(PG_ADMIN_URL, name)
    upgrade(url)
    yield url
    from db.session import dispose_engines

    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def fresh_pg_url() -> Iterator[str]:
    """An empty database (no migrations) for migration tests."""
    _need("PostgreSQL", "127.0.0.1", 5432)
    name = f"medsieve_test_{uuid.uuid4().hex[:10]}"
    # pre_ping: the fault tests restart PostgreSQL mid-session (tests/reliability); a pooled connection from before
    # the restart must not fail the final DROP DATABASE.
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _swap_db(PG_ADMIN_URL, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A fresh RabbitMQ vhost, so queue arguments and leftovers never leak between runs."""
    _need("RabbitMQ", RABBIT_HOST, 5672)
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        yield f"amqp://guest:guest@{RABBIT_HOST}:5672//"
        return
    vhost = f"medsieve_test_{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run([ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True)
    yield f"amqp://guest:guest@{RABBIT_HOST}:5672/{vhost}"
    subprocess.run([ctl, "delete_vhost", vhost], check=False, capture_output=True)


@pytest.fixture()
def configure_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Point settings at the given database/broker and reset every process-wide cache built from them."""

    def apply(database_url: str = "", broker_url: str = "", **extra: str) -> Path:
        data_dir = tmp_path / "data"
        monkeypatch.setenv("MEDSIEVE_DATA_DIR", str(data_dir))
        monkeypatch.setenv("MEDSIEVE_DATABASE_URL", database_url)
        monkeypatch.setenv("MEDSIEVE_BROKER_URL", broker_url)
        for key, value in extra.items():
            monkeypatch.setenv(f"MEDSIEVE_{key.upper()}", str(value))
        _reset_caches()
        return data_dir

    yield apply
    _reset_caches()


def _reset_caches() -> None:
    from core.settings import reset_settings_cache
    from db.session import dispose_engines
    from workers.celery_app import reset_app

    reset_settings_cache()
    dispose_engines()
    reset_app()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault tests' one-line outcomes (tests/reliability/checker.py), repeated at the end of the run."""
    from tests.reliability.checker import SUMMARY_LINES

    if SUMMARY_LINES:
        terminalreporter.section("reliability: measured outcomes")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
