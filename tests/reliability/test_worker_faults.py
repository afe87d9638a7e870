"""Worker-side faults (reliability matrix R1, R3, R4, R9, R10, R12, R14, R15, R16, D6) on real processes: the API
and `medsieve worker` processes on the local PostgreSQL and RabbitMQ, faults injected by the test-only hooks of
faultworker.py or by signals to the worker's processes, results counted by checker.check()."""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.harness import RssSampler, wait_job
from tests.reliability.checker import assert_clean, check, report
from tests.reliability.conftest import fault_stack, marker_pid, shard_outcomes, wait_for, wait_settled

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.timeout(240)]

ITEMS = 300
SHARD = 25  # 12 shards


def _shards(job_id: uuid.UUID) -> list[Any]:
    """Per shard, in order: index, status, attempts, worker, started_at, dispatched_at, error."""
    from db.models import Shard
    from db.session import unit_of_work

    with unit_of_work() as session:
        return list(
            session.execute(
                select(
                    Shard.index,
                    Shard.status,
                    Shard.attempts,
                    Shard.worker,
                    Shard.started_at,
                    Shard.dispatched_at,
                    Shard.error,
                )
                .where(Shard.job_id == job_id)
                .order_by(Shard.index)
            ).all()
        )


def test_r1_sigkill_of_a_pool_child_mid_task(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    sleeper = {"at": "before_commit", "do": "sleep", "seconds": 30, "shards": [3], "max_attempt": 1}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=[sleeper], concurrency=2)
        client = fs.stack.client("rel-r1")
        expect = fs.submit(client, ITEMS)
        child = marker_pid(fs.wait_marker("before_commit-sleep-s3-a1")[0])
        os.kill(child, signal.SIGKILL)  # the child only; the main process survives and forks a new one
        job = wait_job(client, str(expect.job_id), 120, logs=fs.stack.logs)
        outcome = check("R1", [expect], watcher=fs.watcher)
        report(outcome, killed="child mid-task")
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert _shards(expect.job_id)[3].attempts == 2, "the killed shard was redelivered once"
        assert outcome.executions == outcome.shards + 1


def test_r3_sigterm_finishes_the_running_task_and_starts_no_new_one(
    pg_url: str, vhost_url: str, tmp_path: Path
) -> None:
    sleeper = {"at": "before_commit", "do": "sleep", "seconds": 4, "shards": [2], "max_attempt": 1}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        w1 = fs.worker("w1", faults=[sleeper], concurrency=1)
        client = fs.stack.client("rel-r3")
        expect = fs.submit(client, ITEMS)
        fs.wait_marker("before_commit-sleep-s2-a1")
        term_at = datetime.now(UTC)
        w1.p.send_signal(signal.SIGTERM)  # warm shutdown of the main process; it waits for the running task
        w1.p.wait(timeout=60)
        shards = _shards(expect.job_id)
        assert shards[2].status == "succeeded" and shards[2].attempts == 1, "the running task finished in place"
        late = [s.index for s in shards if s.worker == "w1@reliability" and s.started_at > term_at]
        assert late == [], f"w1 started shards {late} after SIGTERM"
        done_by_w1 = sum(s.status == "succeeded" for s in shards)
        assert done_by_w1 < len(shards), "job finished before the SIGTERM; make it larger"
        fs.worker("w2", concurrency=1)  # the rest was returned to the queue, not lost
        job = wait_job(client, str(expect.job_id), 120, logs=fs.stack.logs)
        outcome = check("R3", [expect], watcher=fs.watcher)
        report(outcome, shards_done_before_sigterm=done_by_w1, w1_exit=w1.p.returncode)
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert outcome.executions == outcome.shards, "warm shutdown re-ran nothing"


def test_r4_r16_crash_after_commit_and_duplicated_messages_finish_the_job_once(
    pg_url: str, vhost_url: str, tmp_path: Path
) -> None:
    faults = [
        # R16: every shard message is published twice by the ingest.
        {"at": "after_publish", "do": "duplicate"},
        # R4: three children die right after their shard's transaction committed, before the ack.
        {"at": "after_commit", "do": "exit", "shards": [1, 5, 11], "max_attempt": 1},
    ]
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD, log_format="json") as fs:
        fs.worker("w1", faults=faults, concurrency=2)
        client = fs.stack.client("rel-r16")
        expect = fs.submit(client, ITEMS)
        job = wait_job(client, str(expect.job_id), 150, logs=fs.stack.logs)
        # 24 messages and 3 redeliveries; the 3 deliveries that crashed after their commit report no outcome.
        after_commit_crashes = len(fs.wait_marker("after_commit-exit", count=3))
        outcomes = wait_settled(fs.stack)
        completions = [
            line
            for log in fs.stack.log_dir.glob("w*.log")
            for line in log.read_text(errors="replace").splitlines()
            if str(expect.job_id) in line and ('"job succeeded"' in line or '"job finished at ingest seal"' in line)
        ]
        outcome = check("R4", [expect], watcher=fs.watcher)
        report(outcome, crashes_after_commit=after_commit_crashes, redelivered_noops=outcomes["already-closed"])
        outcome16 = check("R16", [expect], watcher=fs.watcher)
        report(
            outcome16,
            deliveries=sum(outcomes.values()) + after_commit_crashes,
            noops=outcomes["already-closed"] + outcomes["duplicate"],
            completions=len(completions),
        )
        assert job["status"] == "succeeded"
        assert after_commit_crashes == 3
        assert_clean(outcome)
        assert len(completions) == 1, completions
        assert outcomes["succeeded"] == 12 - 3, "12 commits, 3 of them crashed before reporting"
        assert outcomes["already-closed"] + outcomes["duplicate"] == 12 + 3


def test_r9_transient_errors_are_retried_with_backoff_then_succeed(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    flaky = {"at": "before_commit", "do": "raise_transient", "shards": [2], "max_attempt": 3}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=[flaky], concurrency=1)
        client = fs.stack.client("rel-r9")
        expect = fs.submit(client, ITEMS)
        job = wait_job(client, str(expect.job_id), 150, logs=fs.stack.logs)
        raised = fs.markers("before_commit-raise_transient-s2")
        times = sorted(float(m.read_text()) for m in raised)
        gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
        shard = _shards(expect.job_id)[2]
        outcome = check("R9", [expect], watcher=fs.watcher)
        report(outcome, transient_errors=len(raised), retry_gaps_s=gaps, attempts=shard.attempts)
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert len(raised) == 3 and shard.status == "succeeded" and shard.attempts == 4
        # Backoff: at least 1 s between deliveries (1 + jitter), nothing dropped on the quorum queue's retries.
        assert all(g >= 1.0 for g in gaps), gaps
        assert "TransientError" in (shard.error or ""), "the last error was noted on the shard"


def test_r10_time_limits_end_a_shard_as_timeout_and_the_job_goes_on(
    pg_url: str, vhost_url: str, tmp_path: Path
) -> None:
    # Limits above a pool child's first model load (~11 s on this machine), so only the sleepers hit them.
    soft, hard = 20, 24
    faults = [
        {"at": "before_commit", "do": "sleep", "seconds": 120, "shards": [2]},
        {"at": "before_commit", "do": "sleep_ignoring_soft_limit", "seconds": 120, "shards": [11]},
    ]
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker(
            "w1", faults=faults, concurrency=1, task_time_limit_s=hard, task_soft_time_limit_s=soft, sweep_interval_s=1
        )
        client = fs.stack.client("rel-r10")
        expect = fs.submit(client, ITEMS)
        job = wait_job(client, str(expect.job_id), 200, logs=fs.stack.logs)
        time.sleep(3)  # a redelivery loop would show up as another attempt
        shards = _shards(expect.job_id)
        outcome = check("R10", [expect], watcher=fs.watcher)
        report(outcome, timeout_items=outcome.error_codes.get("TIMEOUT", 0), soft_s=soft, hard_s=hard)
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert (shards[2].status, shards[2].attempts) == ("failed", 1), shards[2]
        assert (shards[11].status, shards[11].attempts) == ("failed", 1), shards[11]
        assert "hard time limit" in (shards[11].error or "") and "time limit" in (shards[2].error or "")
        assert outcome.error_codes.get("TIMEOUT") == 2 * SHARD
        assert all(s.status == "succeeded" for s in shards if s.index not in (2, 11))
        from core.settings import Settings

        # The shipped hard limit stays below RabbitMQ's default consumer_timeout (30 min): no redelivery loop.
        assert Settings().task_time_limit_s < 30 * 60


def test_r12_crash_between_publish_and_dispatched_mark(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    crash = {"at": "after_publish", "do": "exit", "times": 1}
    slow = {"at": "before_commit", "do": "sleep", "seconds": 1}  # still running when the sweeper steps in
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=[crash, slow], concurrency=1)
        client = fs.stack.client("rel-r12")
        expect = fs.submit(client, ITEMS)
        job = wait_job(client, str(expect.job_id), 150, logs=fs.stack.logs)
        # The sweeper re-publishes the first group's shards still queued (their dispatched_at was never set).
        outcomes = wait_settled(fs.stack)
        outcome = check("R12", [expect], watcher=fs.watcher)
        report(outcome, deliveries=sum(outcomes.values()), noops=outcomes["already-closed"] + outcomes["duplicate"])
        assert job["status"] == "succeeded"
        assert len(fs.markers("after_publish-exit")) == 1
        assert_clean(outcome)
        assert outcomes["succeeded"] == 12 and outcomes["already-closed"] + outcomes["duplicate"] >= 1, outcomes


def test_r14_paused_worker_past_the_threshold_both_copies_run_one_effect(
    pg_url: str, vhost_url: str, tmp_path: Path
) -> None:
    sleeper = {"at": "before_commit", "do": "sleep", "seconds": 4, "shards": [2], "max_attempt": 1}
    threshold_s = 6
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD, abandoned_after_s=threshold_s) as fs:
        w1 = fs.worker("w1", faults=[sleeper], concurrency=1)
        w2 = fs.worker("w2", concurrency=1)
        client = fs.stack.client("rel-r14")
        expect = fs.submit(client, ITEMS)
        fs.wait_marker("before_commit-sleep-s2-a1")
        os.killpg(w1.p.pid, signal.SIGSTOP)  # main process and children: a frozen host, as far as anyone can tell
        paused_at = time.monotonic()
        try:
            # w2's sweeper sees shard 2 `running` past the threshold and publishes it again; w2 runs it.
            wait_for(lambda: _shards(expect.job_id)[2].status == "succeeded", 90, "shard 2 re-run by w2", fs.stack.logs)
            taken_over_s = time.monotonic() - paused_at
        finally:
            os.killpg(w1.p.pid, signal.SIGCONT)
        # The paused copy wakes up, finishes its sleep and finds the shard closed.
        wait_for(lambda: shard_outcomes(fs.stack)["duplicate"] >= 1, 60, "w1's late commit", fs.stack.logs)
        job = wait_job(client, str(expect.job_id), 120, logs=fs.stack.logs)
        shard = _shards(expect.job_id)[2]
        outcome = check("R14", [expect], watcher=fs.watcher)
        report(outcome, threshold_s=threshold_s, taken_over_s=round(taken_over_s, 1), shard2_attempts=shard.attempts)
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert shard.attempts == 2 and shard.worker == "w2@reliability"
        assert w2.p.poll() is None and w1.p.poll() is None


def test_r15_recycled_pool_children_lose_nothing(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    record = {"at": "after_claim", "do": "record"}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=50) as fs:
        w1 = fs.worker("w1", faults=[record], concurrency=1, worker_max_tasks_per_child=2)
        sampler = RssSampler(w1.p.pid)
        sampler.start()
        client = fs.stack.client("rel-r15")
        try:
            expect = fs.submit(client, ITEMS)
            job = wait_job(client, str(expect.job_id), 200, logs=fs.stack.logs)
        finally:
            sampler.finish()
        pids = {m.name.split("-p")[1].split("-")[0] for m in fs.markers("after_claim-record")}
        outcome = check("R15", [expect], watcher=fs.watcher)
        report(
            outcome,
            max_tasks_per_child=2,
            children_used=len(pids),
            peak_child_rss_mib=round(sampler.peak_process_mib),
        )
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert outcome.executions == outcome.shards == 6
        assert len(pids) >= 3, "children were not recycled"


def test_d6_a_poison_shard_does_not_take_good_messages_with_it(pg_url: str, vhost_url: str, tmp_path: Path) -> None:
    poison = {"at": "after_claim", "do": "kill", "shards": [2]}
    with fault_stack(pg_url, vhost_url, tmp_path, shard_size=SHARD) as fs:
        fs.worker("w1", faults=[poison], concurrency=2, max_shard_attempts=2, queue_delivery_limit=3)
        client = fs.stack.client("rel-d6")
        expect = fs.submit(client, ITEMS)
        job = wait_job(client, str(expect.job_id), 200, logs=fs.stack.logs)
        shards = _shards(expect.job_id)
        outcome = check("D6", [expect], watcher=fs.watcher)
        report(outcome, poison_kills=len(fs.markers("after_claim-kill")), shard_failed=outcome.error_codes)
        assert job["status"] == "succeeded"
        assert_clean(outcome)
        assert shards[2].status == "failed" and outcome.error_codes == {"SHARD_FAILED": SHARD}
        # prefetch 1: each good message ran once and succeeded; none was redelivered or dead-lettered with the poison.
        assert [(s.status, s.attempts) for s in shards if s.index != 2] == [("succeeded", 1)] * 11
