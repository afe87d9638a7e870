"""Fixtures of the fault tests: a fresh RabbitMQ vhost per test (leftover or duplicated messages of one fault must
not reach the next test's workers), the API and workers as real processes, workers optionally with the test-only
fault hooks of faultworker.py, and a watcher of job status."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.processes import Proc, start_worker
from tests.conftest import REPO_ROOT
from tests.e2e.harness import Stack, accepted, running_stack, submit_file
from tests.reliability.checker import Expect, StatusWatcher
from tests.reliability.faultworker import FAULT_DIR_ENV, FAULTS_ENV

FAULT_WORKER = "tests.reliability.faultworker"


@pytest.fixture()
def vhost_url(amqp_url: str) -> Iterator[str]:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        yield amqp_url
        return
    vhost = f"medsieve_rel_{uuid.uuid4().hex[:10]}"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run([ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True, capture_output=True)
    yield amqp_url.rsplit("/", 1)[0] + "/" + vhost
    subprocess.run([ctl, "delete_vhost", vhost], check=False, capture_output=True)


@dataclass
class FaultStack:
    stack: Stack
    fault_dir: Path
    watcher: StatusWatcher

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    def worker(
        self,
        name: str,
        *,
        faults: list[dict[str, Any]] | None = None,
        concurrency: int = 1,
        **settings: Any,
    ) -> Proc:
        """A real worker process (`medsieve worker`), through the fault wrapper when `faults` are given."""
        env = {**self.stack.env, **{f"MEDSIEVE_{k.upper()}": str(v) for k, v in settings.items()}}
        module = "cli.main"
        if faults:
            env[FAULTS_ENV] = json.dumps(faults)
            env[FAULT_DIR_ENV] = str(self.fault_dir)
            env["PYTHONPATH"] = str(REPO_ROOT)
            module = FAULT_WORKER
        proc = start_worker(
            env,
            self.stack.log_dir / f"{name}.log",
            concurrency=concurrency,
            hostname=f"{name}@reliability",
            module=module,
        )
        self.stack.procs[name] = proc
        return proc

    def submit(self, client: httpx.Client, n: int, *, seed: int = 1, project_id: uuid.UUID | None = None) -> Expect:
        from bench.libraries import write_library

        path = write_library(self.stack.data_dir.parent / f"lib-{n}-{seed}-{uuid.uuid4().hex[:6]}.smi", n, seed=seed)
        job_id = accepted(submit_file(client, path.read_bytes(), path.name))
        self.watcher.watch(job_id)
        return Expect.first(job_id, n, project_id)

    def markers(self, prefix: str) -> list[Path]:
        return sorted(p for p in self.fault_dir.iterdir() if p.name.startswith(prefix))

    def wait_marker(self, prefix: str, timeout: float = 60.0, count: int = 1) -> list[Path]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.markers(prefix)
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"no fault marker {prefix!r} after {timeout}s\n{self.stack.logs()}"
            time.sleep(0.05)


def marker_pid(marker: Path) -> int:
    return int(marker.name.split("-p")[1].split("-")[0])


@contextmanager
def fault_stack(pg_url: str, amqp_url: str, root: Path, *, api: bool = True, **settings: Any) -> Iterator[FaultStack]:
    """The API (unless api=False) and no worker yet: each test starts its workers with the faults it needs."""
    fault_dir = root / "faults"
    fault_dir.mkdir(parents=True, exist_ok=True)
    with running_stack(pg_url, amqp_url, root, api=api, workers=0, **settings) as stack:
        watcher = StatusWatcher()
        watcher.start()
        try:
            yield FaultStack(stack, fault_dir, watcher)
        finally:
            watcher.finish()


def project_id_of(name: str) -> uuid.UUID:
    from sqlalchemy import select

    from db.models import Project
    from db.session import unit_of_work

    with unit_of_work() as session:
        return session.execute(select(Project.id).where(Project.name == name)).scalar_one()


def wait_for(predicate: Any, timeout: float, what: str, logs: Any = None, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached after {timeout}s\n{logs() if logs else ''}"
        time.sleep(interval)


_OUTCOME = re.compile(r"Task medsieve\.shard\[([0-9a-f-]+)\] succeeded in [0-9.]+s: '([\w-]+)'")
_RECEIVED = re.compile(r"Task medsieve\.shard\[([0-9a-f-]+)\] received")


def _worker_logs(stack: Stack) -> str:
    return "\n".join(log.read_text(errors="replace") for log in sorted(stack.log_dir.glob("*.log")))


def shard_outcomes(stack: Stack) -> Counter[str]:
    """What each shard delivery returned, from every worker log ('succeeded', 'already-closed', 'duplicate', ...).
    A delivery whose process died has no line; its redelivery has."""
    return Counter(outcome for _task, outcome in _OUTCOME.findall(_worker_logs(stack)))


def wait_settled(stack: Stack, timeout: float = 60.0) -> Counter[str]:
    """Waits until every shard message received so far has an outcome (a crashed delivery is redelivered under the
    same task id) and that stays so for 2 s (the sweeper could still publish a copy), then returns the outcomes."""
    deadline = time.monotonic() + timeout
    stable_since = None
    while True:
        logs = _worker_logs(stack)
        settled = set(_RECEIVED.findall(logs)) <= {task for task, _outcome in _OUTCOME.findall(logs)}
        now = time.monotonic()
        if settled:
            stable_since = stable_since or now
            if now - stable_since >= 2.0:
                return shard_outcomes(stack)
        else:
            stable_since = None
        assert now < deadline, f"deliveries not settled after {timeout}s\n{stack.logs()}"
        time.sleep(0.2)
