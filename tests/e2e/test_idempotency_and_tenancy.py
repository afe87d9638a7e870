"""Idempotency-Key and project isolation over HTTP against the real stack."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.harness import SHARD_SIZE, Stack, accepted, error_body, submit_file, wait_job
from tests.helpers import check_exactly_once

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

ROWS = 3 * SHARD_SIZE + 17  # a few shards, the last one partial


def _jobs_with_key(key: str) -> list[uuid.UUID]:
    from db.models import Job
    from db.session import unit_of_work

    with unit_of_work() as session:
        return list(session.execute(select(Job.id).where(Job.idempotency_key == key)).scalars())


def _shard_attempts(job_id: uuid.UUID) -> list[int]:
    from db.models import Shard
    from db.session import unit_of_work

    with unit_of_work() as session:
        return list(
            session.execute(select(Shard.attempts).where(Shard.job_id == job_id).order_by(Shard.index)).scalars()
        )


def _audit_submits(job_id: str) -> int:
    from db.models import AuditEvent
    from db.session import unit_of_work

    with unit_of_work() as session:
        return int(
            session.execute(
                select(func.count()).where(AuditEvent.action == "job.submit", AuditEvent.target == f"job:{job_id}")
            ).scalar_one()
        )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from bench.libraries import write_library

    return write_library(tmp_path_factory.mktemp("idem") / "lib.smi.gz", ROWS, seed=7).read_bytes()


def test_same_key_same_body_is_one_job(stack: Stack, project: str, library: bytes) -> None:
    client = stack.client(project)
    key = f"e2e-{uuid.uuid4()}"
    headers = {"Idempotency-Key": key}
    first = submit_file(client, library, "lib.smi.gz", parameters={"input_format": "smi"}, headers=headers)
    job_id = accepted(first)
    second = submit_file(client, library, "lib.smi.gz", parameters={"input_format": "smi"}, headers=headers)
    assert second.status_code == 200, second.text
    assert second.json()["id"] == job_id
    assert second.headers.get("idempotent-replayed") == "true"

    job = wait_job(client, job_id, 180, logs=stack.logs)
    assert job["status"] == "succeeded", job
    # A replay after the job finished still returns it, and still creates nothing.
    third = submit_file(client, library, "lib.smi.gz", parameters={"input_format": "smi"}, headers=headers)
    assert third.status_code == 200 and third.json()["id"] == job_id

    listed = client.get("/v1/jobs").json()["items"]
    assert [j["id"] for j in listed] == [job_id]
    assert _jobs_with_key(key) == [uuid.UUID(job_id)]
    assert _audit_submits(job_id) == 1
    # Only one job ran: its shards each executed once and its items exist once.
    assert _shard_attempts(uuid.UUID(job_id)) == [1] * job["shards"]["total"]
    check = check_exactly_once(uuid.UUID(job_id), ROWS)
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0), check


def test_same_key_different_body_is_409(stack: Stack, project: str, library: bytes) -> None:
    client = stack.client(project)
    key = f"e2e-{uuid.uuid4()}"
    headers = {"Idempotency-Key": key}
    job_id = accepted(submit_file(client, library, "lib.smi.gz", headers=headers))
    changed_file = submit_file(client, library + b"", "lib.smi", headers=headers, parameters={"input_format": "csv"})
    changed_content = submit_file(client, b"CCO ethanol\n", "lib.smi.gz", headers=headers)
    changed_inline = client.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"]}, headers=headers)
    for response in (changed_file, changed_content, changed_inline):
        assert response.status_code == 409, response.text
        error = error_body(response)
        assert error["code"] == "IDEMPOTENCY_KEY_REUSED" and error["details"]["job_id"] == job_id
    assert _jobs_with_key(key) == [uuid.UUID(job_id)]
    assert wait_job(client, job_id, 180, logs=stack.logs)["status"] == "succeeded"


def test_concurrent_submits_with_one_key_make_one_job(stack: Stack, project: str) -> None:
    client = stack.client(project)
    key = f"e2e-{uuid.uuid4()}"
    body = {"domain": "screening", "items": ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"]}

    def post(_: int) -> httpx.Response:
        return client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(post, range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [202], [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    job_id = ids.pop()
    assert _jobs_with_key(key) == [uuid.UUID(job_id)]
    assert wait_job(client, job_id, 120, logs=stack.logs)["status"] == "succeeded"


def test_another_projects_job_is_404_everywhere(stack: Stack, project: str, library: bytes) -> None:
    client_a = stack.client(f"{project}-A")
    client_b = stack.client(f"{project}-B")
    # Project B has a job of its own, so its listing is not trivially empty.
    b_job = accepted(client_b.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"]}))
    a_running = accepted(submit_file(client_a, library, "a.smi.gz"))
    a_done = accepted(client_a.post("/v1/jobs", json={"domain": "screening", "items": ["CCN", "CCCl"]}))
    assert wait_job(client_a, a_done, 120, logs=stack.logs)["status"] == "succeeded"
    missing = str(uuid.uuid4())

    def answers(job_id: str) -> list[tuple[int, str]]:
        out = []
        for method, path, params in (
            ("GET", "", {}),
            ("GET", "/results", {}),
            ("GET", "/export", {"format": "csv"}),
            ("GET", "/export", {"format": "parquet"}),
            ("GET", "/errors", {}),
            ("GET", "/provenance", {}),
            ("POST", "/cancel", {}),
        ):
            response = client_b.request(method, f"/v1/jobs/{job_id}{path}", params=params)
            out.append((response.status_code, error_body(response)["code"]))
        return out

    # Same answer as for a job that does not exist, whether A's job is running or finished (a finished job's
    # cancel would be 409 in its own project: answering that to B would leak its existence and state).
    for job_id in (a_running, a_done, missing):
        assert answers(job_id) == [(404, "NOT_FOUND")] * 7, job_id
    assert [j["id"] for j in client_b.get("/v1/jobs").json()["items"]] == [b_job]
    assert {j["id"] for j in client_a.get("/v1/jobs").json()["items"]} == {a_running, a_done}

    # B's cancel did nothing to A's job, which runs to the end.
    job = wait_job(client_a, a_running, 180, logs=stack.logs)
    assert job["status"] == "succeeded" and job["items_total"] == ROWS
    assert wait_job(client_b, b_job, 120, logs=stack.logs)["status"] == "succeeded"
