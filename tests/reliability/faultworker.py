"""`python -m tests.reliability.faultworker worker ...`: the real `medsieve worker` with test-only fault hooks.

The hooks are patched in here, in the test tree, just before the CLI starts the worker; prefork children inherit
them. Production code has no fault switch at all, so nothing can turn one on in a deployment. Rules come from
MEDSIEVE_TEST_FAULTS (a JSON list); every time a hook fires it leaves a marker file in MEDSIEVE_TEST_FAULT_DIR,
named after the point, the shard and the process, so a test knows when and where to strike.

A rule: {"at": point, "do": action, "shards": [shard index, ...] | null, "max_attempt": n | null,
         "times": n | null, "seconds": s}
- points: "after_claim" (the attempt is counted and committed, the pipeline has not run: cheap to repeat, no model
  load), "before_commit" (the pipeline ran, the write transaction has not begun), "after_commit" (the shard's
  rows are committed, the message is not acked yet), "after_publish" (ingest published a group of shards and has
  not marked them dispatched yet).
- actions: "sleep", "sleep_ignoring_soft_limit" (blocks the soft time-limit signal, so only the hard limit can
  end it), "exit" (os._exit(1)), "kill" (SIGKILL itself), "raise_transient" (core.errors.TransientError),
  "duplicate" (after_publish: publish the same shards once more), "record" (only the marker).
- "max_attempt": fire only while the shard's attempt number (counted by the claim) is at most this.
- "times": fire at most this many times in all processes together (claimed with O_EXCL marker files).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

FAULTS_ENV = "MEDSIEVE_TEST_FAULTS"
FAULT_DIR_ENV = "MEDSIEVE_TEST_FAULT_DIR"


def _rules() -> list[dict[str, Any]]:
    raw = os.environ.get(FAULTS_ENV, "").strip()
    return list(json.loads(raw)) if raw else []


def _fault_dir() -> Path:
    path = Path(os.environ.get(FAULT_DIR_ENV) or "/tmp/medsieve-faults")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _claim_slot(rule_no: int, times: int) -> bool:
    """Atomically take one of the rule's `times` firings, across every worker process."""
    for n in range(times):
        try:
            fd = os.open(_fault_dir() / f"slot-{rule_no}-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        return True
    return False


def _marker(point: str, action: str, shard: int | None, attempt: int | None) -> None:
    name = f"{point}-{action}-s{shard if shard is not None else 'x'}-a{attempt or 0}-p{os.getpid()}-{time.time_ns()}"
    (_fault_dir() / name).write_text(f"{time.time()}\n")


def fire(point: str, shard: int | None = None, attempt: int | None = None, **ctx: Any) -> list[str]:
    """Applies every matching rule; returns the actions that need the caller (e.g. "duplicate")."""
    asked: list[str] = []
    for rule_no, rule in enumerate(_rules()):
        if rule.get("at") != point:
            continue
        shards = rule.get("shards")
        if shards is not None and shard not in shards:
            continue
        max_attempt = rule.get("max_attempt")
        if max_attempt is not None and (attempt or 0) > max_attempt:
            continue
        times = rule.get("times")
        if times is not None and not _claim_slot(rule_no, int(times)):
            continue
        action = str(rule["do"])
        _marker(point, action, shard, attempt)
        seconds = float(rule.get("seconds", 0))
        if action == "sleep":
            time.sleep(seconds)
        elif action == "sleep_ignoring_soft_limit":
            # billiard delivers the soft time limit as SIGUSR1; blocked, only the hard limit's SIGKILL ends this.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
            time.sleep(seconds)
        elif action == "exit":
            os._exit(1)
        elif action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "raise_transient":
            from core.errors import TransientError

            raise TransientError(f"injected transient error at {point} (attempt {attempt})")
        elif action in ("duplicate", "record"):
            asked.append(action)
        else:
            raise ValueError(f"unknown fault action {action!r}")
    return asked


def install() -> None:
    from core.settings import get_settings
    from workers.services import ingest, shard_runner

    original_claim = shard_runner._claim
    original_commit = shard_runner._commit
    original_publish = ingest.publish_shards

    def shard_of(claim: Any) -> int | None:
        return claim.items[0].index // get_settings().shard_size if claim.items else None

    def claim_hook(shard_id: int, worker: str) -> Any:
        got = original_claim(shard_id, worker)
        if not isinstance(got, str):
            fire("after_claim", shard_of(got), got.attempt)
        return got

    def commit_hook(claim: Any, *args: Any, **kwargs: Any) -> str:
        shard = shard_of(claim)
        fire("before_commit", shard, claim.attempt)
        outcome = original_commit(claim, *args, **kwargs)
        fire("after_commit", shard, claim.attempt)
        return outcome

    def publish_hook(domain: str, device: str, shard_ids: Any) -> list[int]:
        ids = list(shard_ids)
        sent = original_publish(domain, device, ids)
        if "duplicate" in fire("after_publish"):
            original_publish(domain, device, ids)
        return sent

    shard_runner._claim = claim_hook  # type: ignore[assignment]
    shard_runner._commit = commit_hook  # type: ignore[assignment]
    ingest.publish_shards = publish_hook  # type: ignore[assignment]


def main() -> None:
    if _rules():
        install()
        print(f"FAULT INJECTION ACTIVE: {os.environ[FAULTS_ENV]}", file=sys.stderr, flush=True)
    from cli.main import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
