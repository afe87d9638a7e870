"""Real worker processes on the real RabbitMQ and Postgres, including SIGKILL of the whole worker mid-job."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from bench.processes import service_env, start_worker
from tests.helpers import check_exactly_once, job_row, submit_file, wait_job
from tests.reliability import checker

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]


@pytest.fixture()
def stack(pg_url: str, amqp_url: str, configure_env, tmp_path: Path):
    data_dir = configure_env(database_url=pg_url, broker_url=amqp_url, shard_size="250")
    env = service_env(pg_url, amqp_url, data_dir, shard_size="250")
    procs = []
    yield env, procs
    for p in procs:
        p.stop()


def _submit(tmp_path: Path, n: int):
    from api.services.dispatching import dispatch_ingest
    from bench.libraries import write_library

    path = write_library(tmp_path / f"lib{n}.smi.gz", n)
    job_id = submit_file(path)
    dispatch_ingest(job_id, "screening")
    return job_id


def test_real_worker_completes_a_job(stack, tmp_path: Path) -> None:
    env, procs = stack
    procs.append(start_worker(env, tmp_path / "w1.log"))
    job_id = _submit(tmp_path, 3000)
    job = wait_job(job_id, timeout=180)
    assert job.status == "succeeded", procs[0].tail()
    check = check_exactly_once(job_id, 3000)
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0)
    assert check.executions == job.shards_total  # no fault, one execution per shard


def test_sigkill_of_the_whole_worker_loses_nothing_and_writes_nothing_twice(stack, tmp_path: Path) -> None:
    env, procs = stack
    first = start_worker(env, tmp_path / "w1.log")
    procs.append(first)
    n = 12_000
    job_id = _submit(tmp_path, n)
    deadline = time.monotonic() + 120
    while job_row(job_id).shards_done < 4:
        assert time.monotonic() < deadline, first.tail()
        time.sleep(0.05)
    first.kill_group(signal.SIGKILL)  # main process and pool children, no chance to ack or clean up
    done_at_kill = job_row(job_id).shards_done
    assert job_row(job_id).status != "succeeded", "job finished before the kill; make it larger"
    procs.append(start_worker(env, tmp_path / "w2.log"))
    job = wait_job(job_id, timeout=300)
    assert job.status == "succeeded", procs[-1].tail()
    check = check_exactly_once(job_id, n)
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0)
    # At-least-once execution shows up as extra attempts (the shards in flight at the kill ran twice).
    assert check.executions >= job.shards_total
    print(f"kill after {done_at_kill}/{job.shards_total} shards: executions={check.executions}")
    outcome = checker.check("R2", [checker.Expect.first(job_id, n)])
    checker.report(outcome, killed="whole worker (SIGKILL to the process group)", shards_done_at_kill=done_at_kill)
    assert outcome.clean and not outcome.problems, outcome.problems
