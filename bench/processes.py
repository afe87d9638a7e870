"""Start and stop real medsieve processes (API server, Celery workers) for end-to-end and fault tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def service_env(database_url: str, broker_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSIEVE_")}
    env.update(
        MEDSIEVE_DATABASE_URL=database_url,
        MEDSIEVE_BROKER_URL=broker_url,
        MEDSIEVE_DATA_DIR=str(data_dir),
        MEDSIEVE_SWEEP_INTERVAL_S="1",
        MEDSIEVE_LOG_LEVEL="INFO",
    )
    env.update({f"MEDSIEVE_{k.upper()}": str(v) for k, v in extra.items()})
    return env


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, module: str = "cli.main") -> None:
        self.log = log
        self._fh = log.open("ab")
        # A new session: the process and all its children form one group we can kill at once.
        self.p = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.p.pid, sig)
        self.p.wait(timeout=30)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.kill_group(signal.SIGTERM)
        self._fh.close()

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def start_worker(
    env: dict[str, str],
    log: Path,
    concurrency: int = 2,
    queues: str = "screening.cpu",
    *,
    hostname: str | None = None,
    module: str = "cli.main",
) -> Proc:
    """`module` other than cli.main: the fault-injection wrapper of tests/reliability (same CLI, test hooks)."""
    args = ["worker", "-Q", queues, "-c", str(concurrency), *(["-n", hostname] if hostname else [])]
    proc = Proc(args, env, log, module=module)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in log.read_text(errors="replace"):
            return proc
        if proc.p.poll() is not None:
            raise AssertionError(f"worker exited early:\n{proc.tail()}")
        time.sleep(0.2)
    raise AssertionError(f"worker not ready in 60 s:\n{proc.tail()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(env: dict[str, str], log: Path, processes: int = 1) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(["serve", "--host", "127.0.0.1", "--port", str(port), "--processes", str(processes)], env, log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.p.poll() is not None:
            raise AssertionError(f"API exited early:\n{proc.tail()}")
        time.sleep(0.2)
    raise AssertionError(f"API not up in 60 s:\n{proc.tail()}")
