"""Broker down at submit (reliability matrix R6): the API still answers 202 because the job row is the outbox;
a worker started later, on the right broker, has its sweeper publish the job, and the job completes."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from bench.processes import free_port
from tests.e2e.harness import SHARD_SIZE, accepted, running_stack, submit_file, wait_job
from tests.helpers import check_exactly_once, job_row
from tests.reliability import checker

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

ROWS = 2 * SHARD_SIZE + 5


def _wait_for_log(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not in {path.name}:\n{path.read_text(errors='replace')[-3000:]}"
        time.sleep(0.1)


@pytest.mark.parametrize("broken", ["closed port", "missing vhost"])
def test_submit_while_the_broker_is_unreachable_completes_once_a_worker_runs(
    broken: str, pg_url: str, amqp_url: str, project: str, tmp_path: Path
) -> None:
    from bench.libraries import write_library

    if broken == "closed port":
        bad_broker = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    else:
        bad_broker = amqp_url.rsplit("/", 1)[0] + f"/medsieve_missing_{uuid.uuid4().hex[:8]}"
    library = write_library(tmp_path / "lib.smi", ROWS, seed=3).read_bytes()

    # No worker anywhere yet; the API has the real database but a broker it cannot reach.
    with running_stack(pg_url, amqp_url, tmp_path / "stack", api=False, workers=0) as stack:
        base = stack.start_api("api-no-broker", broker_url=bad_broker)
        client = stack.client(project, base_url=base)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["broker"].startswith("error"), ready.text

        t0 = time.monotonic()
        job_id = accepted(submit_file(client, library, "lib.smi"))
        submit_s = time.monotonic() - t0
        # The publish after the response fails and is left to the sweeper; the job waits, it is not lost.
        _wait_for_log(stack.log_dir / "api-no-broker.log", "ingest publish failed", 60)
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "queued" and job["ingest_dispatched_at"] is None, job

        worker = stack.start_worker("worker")
        t1 = time.monotonic()
        job = wait_job(client, job_id, 180, logs=stack.logs)
        assert job["status"] == "succeeded", (job, worker.tail())
        assert job["ingest_dispatched_at"] is not None
        assert job["items_total"] == ROWS and job["shards"]["by_status"] == {"succeeded": 3}
        check = check_exactly_once(uuid.UUID(job_id), ROWS)
        assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0), check
        assert "sweep:" in worker.log.read_text(errors="replace"), "the sweeper did not report publishing the job"
        assert job_row(uuid.UUID(job_id)).ingest_dispatched_at is not None
        outcome = checker.check("R6", [checker.Expect.first(job_id, ROWS)])
        checker.report(outcome, broken=broken.replace(" ", "-"), submit_s=round(submit_s, 2))
        assert outcome.clean and not outcome.problems, outcome.problems
        print(
            f"\nbroker down ({broken}): submit answered in {submit_s:.2f} s; done {time.monotonic() - t1:.1f} s "
            f"after the worker was ready"
        )
