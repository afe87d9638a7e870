"""Full-stack harness: a real `medsieve serve` process and real `medsieve worker` processes on the real
PostgreSQL and RabbitMQ, driven only over HTTP with httpx, the way a user drives them. The test process reads
the database directly only for what a user cannot see (no item lost or written twice, shard timestamps).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.processes import Proc, service_env, start_api, start_worker
from tests.helpers import PLATFORM_SCREENING

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
SHARD_SIZE = 2000
HTTP_TIMEOUT_S = 120.0


def reset_caches() -> None:
    """Settings, engines and the Celery app are process-wide caches built from the environment."""
    from core.settings import reset_settings_cache
    from db.session import dispose_engines
    from workers.celery_app import reset_app

    reset_settings_cache()
    dispose_engines()
    reset_app()


def _medsieve_command() -> list[str]:
    # The console script a user runs; `python -m cli.main` is the same entry point if it is not installed.
    script = Path(sys.executable).with_name("medsieve")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cli.main"]


@dataclass
class Stack:
    env: dict[str, str]
    data_dir: Path
    log_dir: Path
    base_url: str = ""
    procs: dict[str, Proc] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def start_api(self, name: str = "api", **extra: str) -> str:
        """Another API process on the same database and data directory; `extra` overrides settings."""
        env = {**self.env, **{f"MEDSIEVE_{k.upper()}": str(v) for k, v in extra.items()}}
        proc, base = start_api(env, self.log_dir / f"{name}.log")
        self.procs[name] = proc
        if not self.base_url:
            self.base_url = base
        return base

    def start_worker(self, name: str = "worker", concurrency: int = 2, queues: str = "screening.cpu") -> Proc:
        proc = start_worker(self.env, self.log_dir / f"{name}.log", concurrency=concurrency, queues=queues)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        _stop(self.procs.pop(name))

    def token(self, project: str) -> str:
        """`medsieve token create --project P`, as an operator would run it."""
        out = subprocess.run(
            [*_medsieve_command(), "token", "create", "--project", project],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, f"token create failed:\n{out.stdout}\n{out.stderr}"
        secrets = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("ms_")]
        assert len(secrets) == 1, out.stdout
        return secrets[0]

    def client(self, project: str, base_url: str | None = None) -> httpx.Client:
        client = httpx.Client(
            base_url=base_url or self.base_url,
            headers={"Authorization": f"Bearer {self.token(project)}"},
            timeout=HTTP_TIMEOUT_S,
        )
        self.clients.append(client)
        return client

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ---\n{proc.tail(lines)}" for name, proc in self.procs.items())

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for name in list(self.procs):
            self.stop(name)


def _stop(proc: Proc) -> None:
    try:
        proc.stop()
    except subprocess.TimeoutExpired:  # a warm shutdown that hangs must not hang the test run
        proc.kill_group()


@contextmanager
def running_stack(
    pg_url: str, amqp_url: str, root: Path, *, api: bool = True, workers: int = 1, **extra: str
) -> Iterator[Stack]:
    """API + workers as real processes. The test process gets the same settings, so tests.helpers can read
    the same database; the environment is restored and every cache dropped afterwards."""
    data_dir = root / "data"
    log_dir = root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = service_env(pg_url, amqp_url, data_dir, **{"shard_size": str(SHARD_SIZE), **extra})
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key in [k for k in os.environ if k.startswith("MEDSIEVE_")]:
                mp.delenv(key)
            for key, value in env.items():
                if key.startswith("MEDSIEVE_"):
                    mp.setenv(key, value)
            reset_caches()
            stack = Stack(env=env, data_dir=data_dir, log_dir=log_dir)
            try:
                if api:
                    stack.start_api()
                for i in range(workers):
                    stack.start_worker(f"worker{i}")
                yield stack
            finally:
                stack.close()
    finally:
        reset_caches()


# ---------------------------------------------------------------------------------------------- HTTP helpers


def submit_file(
    client: httpx.Client,
    content: bytes,
    filename: str,
    *,
    domain: str = "screening",
    parameters: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    """A multipart upload: form fields first (the server validates them before the file streams), then the file."""
    data = {"domain": domain}
    if domain == "screening":
        parameters = {**PLATFORM_SCREENING, **(parameters or {})}
    if parameters is not None:
        data["parameters"] = json.dumps(parameters)
    files = {"file": (filename, content, content_type)}
    return client.post("/v1/jobs", data=data, files=files, headers=headers)


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, (response.status_code, response.text)
    return str(response.json()["id"])


def wait_job(
    client: httpx.Client,
    job_id: str,
    timeout: float,
    statuses: frozenset[str] = TERMINAL,
    logs: Callable[[], str] | None = None,
    poll_s: float = 0.25,
) -> dict[str, Any]:
    """Polls GET /v1/jobs/{id} until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            counts = {k: body[k] for k in ("status", "items_total", "items_succeeded", "items_failed")}
            raise AssertionError(f"job {job_id} not in {sorted(statuses)} after {timeout}s: {counts}\n{_logs(logs)}")
        time.sleep(poll_s)


def _logs(logs: Callable[[], str] | None) -> str:
    return logs() if logs is not None else ""


def walk(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of a cursor-paginated listing, following next_cursor to the end."""
    query = dict(params or {})
    while True:
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        yield from page["items"]
        if page["next_cursor"] is None:
            return
        query["cursor"] = page["next_cursor"]


def error_body(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] and error["message"], body
    return error


# ---------------------------------------------------------------------------------------------- process memory


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def children_without(pid: int, mapped: str) -> list[int]:
    """Child processes that have not mapped a file whose path contains `mapped` (e.g. not imported RDKit yet)."""
    out = []
    for child in _children(pid):
        try:
            maps = Path(f"/proc/{child}/maps").read_text()
        except OSError:
            continue
        if mapped not in maps:
            out.append(child)
    return out


def _status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Samples a process tree (a worker's main process and its pool children) from /proc.

    Per process it keeps VmHWM, the kernel's own resident high-water mark, so a spike between two samples is
    not missed; for the tree it keeps the largest sum of VmRSS seen in one sample."""

    def __init__(self, root_pid: int, interval_s: float = 0.2) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.peak_kib: dict[int, int] = {}
        self.first_kib: dict[int, int] = {}
        self.peak_tree_kib = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        pids = [self.root_pid, *_children(self.root_pid)]
        total = 0
        for pid in pids:
            rss = _status_kib(pid, "VmRSS")
            hwm = _status_kib(pid, "VmHWM")
            if rss is None or hwm is None:
                continue  # exited between listing and reading
            total += rss
            self.first_kib.setdefault(pid, rss)
            self.peak_kib[pid] = max(self.peak_kib.get(pid, 0), hwm)
        self.peak_tree_kib = max(self.peak_tree_kib, total)
        self.samples += 1

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval_s)

    def finish(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
        self.sample()

    @property
    def peak_growth_mib(self) -> float:
        """Largest rise of one process above its RSS when first seen (its high-water mark minus that RSS)."""
        return max((self.peak_kib[pid] - self.first_kib[pid] for pid in self.peak_kib), default=0) / 1024

    @property
    def peak_process_mib(self) -> float:
        return max(self.peak_kib.values(), default=0) / 1024

    @property
    def peak_tree_mib(self) -> float:
        return self.peak_tree_kib / 1024
