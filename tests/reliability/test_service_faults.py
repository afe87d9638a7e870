"""Faults of the services themselves (reliability matrix R5, R7, R8, R11): RabbitMQ stopped and started under
running workers, PostgreSQL restarted or stopped mid-run, a worker's AMQP connection cut with `ss -K`. Each test
puts the service back in a `finally`, whatever happened."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.harness import wait_job
from tests.reliability.checker import assert_clean, check, report
from tests.reliability.conftest import fault_stack, shard_outcomes, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.timeout(300)]

ITEMS = 300
SHARD = 25  # 12 shards
# Every shard takes a second longer, so the job is still running when the fault strikes.
SLOW_SHARDS = [{"at": "before_commit", "do": "sleep", "seconds": 1}]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _wait_port(port: int, up: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _port_open(port) != up:
        assert time.monotonic() < deadline, f"port {port} not {'open' if up else 'closed'} after {timeout}s"
        time.sleep(0.2)


def _pg_cluster() -> list[str]:
    ctl = shutil.which("pg_ctlcluster")
    if ctl is None or not Path("/etc/postgresql").is_dir() or os.geteuid() != 0:
        pytest.skip("needs root and pg_ctlcluster to stop and start the local PostgreSQL")
    version = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(x) for x in re.findall(r"\d+", v)])[-1]
    return [ctl, "--skip-systemctl-redirect", version, "main"]


def _pg(action: str, *options: str) -> None:
    subprocess.run([*_pg_cluster(), action, *options], check=True, capture_output=True, timeout=120)


@contextmanager
def postgres_restored() -> Iterator[None]:
    _pg_cluster()
    try:
        yield
    finally:
        if not _port_open(5432):
            _pg("start")
        _wait_port(5432, True, 60)


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None or os.geteuid() != 0:
        pytest.skip("needs root and rabbitmqctl to stop and start the local RabbitMQ")
    subprocess.run([ctl, *args], check=True, capture_output=True, timeout=120)


@contextmanager
def rabbitmq_restored() -> Iterator[None]:
    try:
        yield
    finally:
        if not _port_open(5672):
            _rabbitmqctl("start_app")
        _wait_port(5672, True, 120)


def _shards_done(job_id: uuid.UUID) -> int:
    from db.models import Shard
    from db.session import unit_of_work

    with unit_of_work() as session:
        statuses = session.execute(select(Shard.status).where(Shard.job_id == job_id)).scalars().all()
    return sum(s == "succeeded" for s in statuses)


def _shard_attempts(job_id: uuid.UUID) -> list[int]:
    from db.models import Shard
    from db.session import unit_of_work

    with unit_of_work() as session:
        return list(
            session.execute(select(Shard.attempts).where(Shard.job_id == job_id).order_by(Shard.index)).scalars()
        )


def test_r5_broker_restart_mid_run(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=SLOW_SHARDS, concurrency=2)
        client = fs.stack.client("rel-r5")
        expect = fs.submit(client, ITEMS)
        wait_for(lambda: _shards_done(expect.job_id) >= 3, 120, "3 shards done", fs.stack.logs)
        with rabbitmq_restored():
            _rabbitmqctl("stop_app")
            done_at_stop = _shards_done(expect.job_id)
            time.sleep(3)
            _rabbitmqctl("start_app")
            _wait_port(5672, True, 120)
        back = time.monotonic()
        # Workers reconnect on their own and consume again.
        wait_for(lambda: _shards_done(expect.job_id) > done_at_stop, 120, "progress after the restart", fs.stack.logs)
        resumed_s = time.monotonic() - back
        job = wait_job(client, str(expect.job_id), 180, logs=fs.stack.logs)
        outcome = check("R5", [expect], watcher=fs.watcher)
        report(outcome, done_at_stop=done_at_stop, resumed_after_s=round(resumed_s, 1))
        assert job["status"] == "succeeded"
        assert_clean(outcome)


def test_r7_postgres_restart_mid_run(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=SLOW_SHARDS, concurrency=2)
        client = fs.stack.client("rel-r7")
        expect = fs.submit(client, ITEMS)
        wait_for(lambda: _shards_done(expect.job_id) >= 3, 120, "3 shards done", fs.stack.logs)
        during: list[httpx.Response] = []
        with postgres_restored():
            _pg("stop", "-m", "immediate")  # in-flight transactions die; nothing is flushed politely
            down_at = time.monotonic()
            while time.monotonic() - down_at < 5:
                during.append(client.get(f"/v1/jobs/{expect.job_id}"))
                time.sleep(0.5)
            during.append(client.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"]}))
            _pg("start")
            _wait_port(5432, True, 60)
        up_at = time.monotonic()
        wait_for(lambda: client.get(f"/v1/jobs/{expect.job_id}").status_code == 200, 30, "API recovers")
        api_recovered_s = time.monotonic() - up_at
        job = wait_job(client, str(expect.job_id), 180, logs=fs.stack.logs)
        outcome = check("R7", [expect], watcher=fs.watcher)
        codes = sorted({r.status_code for r in during})
        report(outcome, api_during_outage=codes, api_recovered_s=round(api_recovered_s, 1))
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        unavailable = [r for r in during if r.status_code == 503]
        assert unavailable, codes
        assert all(r.status_code in (200, 503) for r in during), codes
        assert all(r.headers.get("retry-after", "").isdigit() for r in unavailable)
        assert all(r.json()["error"]["code"] == "DATABASE_UNAVAILABLE" for r in unavailable)
        assert during[-1].status_code == 503, "a submit during the outage is refused, not half-done"


def test_r8_postgres_down_while_a_task_computes(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    sleeper = {"at": "before_commit", "do": "sleep", "seconds": 4, "shards": [2], "max_attempt": 1}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=[sleeper], concurrency=1)
        client = fs.stack.client("rel-r8")
        expect = fs.submit(client, ITEMS)
        fs.wait_marker("before_commit-sleep-s2-a1")
        with postgres_restored():
            _pg("stop", "-m", "immediate")
            time.sleep(8)  # the shard's write (at +4 s) fails; its retries fail too until PostgreSQL is back
            _pg("start")
            _wait_port(5432, True, 60)
        job = wait_job(client, str(expect.job_id), 180, logs=fs.stack.logs)
        attempts = _shard_attempts(expect.job_id)
        retries = sum(
            log.read_text(errors="replace").count("shard hit a transient error; retrying")
            for log in fs.stack.log_dir.glob("w*.log")
        )
        outcome = check("R8", [expect], watcher=fs.watcher)
        report(outcome, transient_retries=retries, shard2_attempts=attempts[2])
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert retries >= 1 and attempts[2] == 2, (retries, attempts)


def _amqp_ports(pid: int) -> list[int]:
    """Local ports of the process's TCP connections to RabbitMQ (from `ss -tnp`)."""
    out = subprocess.run(["ss", "-tnp", "dport = :5672"], capture_output=True, text=True, check=True).stdout
    ports = []
    for line in out.splitlines():
        if f"pid={pid}," in line:
            local = line.split()[3]
            ports.append(int(local.rsplit(":", 1)[1]))
    return ports


def test_r11_amqp_connection_cut_during_a_long_task(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    if shutil.which("ss") is None or os.geteuid() != 0:
        pytest.skip("needs root and iproute2's ss -K")
    sleeper = {"at": "before_commit", "do": "sleep", "seconds": 6, "shards": [2], "max_attempt": 1}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        w1 = fs.worker("w1", faults=[sleeper], concurrency=1)
        client = fs.stack.client("rel-r11")
        expect = fs.submit(client, ITEMS)
        fs.wait_marker("before_commit-sleep-s2-a1")
        ports = _amqp_ports(w1.p.pid)
        assert ports, "the worker has no AMQP connection to cut"
        for port in ports:
            subprocess.run(
                ["ss", "-K", "-t", "src", "127.0.0.1", "sport", "=", f":{port}"], check=True, capture_output=True
            )
        job = wait_job(client, str(expect.job_id), 180, logs=fs.stack.logs)
        time.sleep(8)  # the old copy's sleep ends: a copy that was not cancelled would commit now
        attempts = _shard_attempts(expect.job_id)
        outcomes = shard_outcomes(fs.stack)
        outcome = check("R11", [expect], watcher=fs.watcher)
        report(outcome, connections_cut=len(ports), shard2_attempts=attempts[2], outcomes=dict(outcomes))
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert attempts[2] <= 2
        assert w1.p.poll() is None, "the worker survived the connection loss"
