"""POST /v1/jobs: the three body shapes, stored artifacts, validation outcomes and upload limits."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from core.artifacts import artifact_path
from tests.api.conftest import SMI, Api, assert_error, job_row, stored_files
from tests.helpers import PLATFORM_SCREENING

pytestmark = pytest.mark.postgres


def test_inline_json_items_become_a_jsonl_artifact(api: Api) -> None:
    items = ["CCO", {"smiles": "c1ccccc1", "id": "benzene"}]
    r = api.submit_inline(items, name="  inline run ", priority=3, parameters={"admet": False})
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["Location"] == f"/v1/jobs/{body['id']}"
    assert body["status"] == "queued" and body["input_format"] == "jsonl"
    assert body["name"] == "inline run" and body["priority"] == 3 and body["device"] == "cpu"
    expected = b'"CCO"\n{"smiles": "c1ccccc1", "id": "benzene"}\n'
    assert body["input_sha256"] == hashlib.sha256(expected).hexdigest()
    assert body["input_bytes"] == len(expected)
    path = artifact_path(api.data_dir.resolve() / "artifacts", body["input_sha256"])
    assert path.read_bytes() == expected
    # Parameters are stored normalized (defaults filled in) so equal requests hash equally.
    assert body["parameters"]["admet"] is False and "input_format" in body["parameters"]

    from db.models import Artifact, AuditEvent
    from db.session import unit_of_work

    with unit_of_work() as session:
        stored = session.get(Artifact, body["input_sha256"])
        assert stored is not None and stored.size_bytes == len(expected)
        events = session.execute(select(AuditEvent).where(AuditEvent.target == f"job:{body['id']}")).scalars().all()
        assert [e.action for e in events] == ["job.submit"]
        assert events[0].details["input_sha256"] == body["input_sha256"]


def test_multipart_upload_streams_the_file_and_keeps_only_a_display_name(api: Api) -> None:
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening", "parameters": json.dumps({"id_column": None}), "name": "mp", "device": "cpu"},
        files={"file": ("../../etc/C:\\evil\\library.smi", SMI, "application/octet-stream")},
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["input_filename"] == "library.smi"
    assert body["input_format"] == "smi"
    assert body["input_sha256"] == hashlib.sha256(SMI).hexdigest()
    assert artifact_path(api.data_dir.resolve() / "artifacts", body["input_sha256"]).read_bytes() == SMI
    # Nothing but the content-addressed file is left behind (no temp files, nothing named after the user).
    assert [p.name for p in stored_files(api)] == [body["input_sha256"]]


def test_raw_body_gzip_and_chemical_types(api: Api) -> None:
    packed = gzip.compress(SMI)
    r = api.client.post(
        "/v1/jobs",
        params={"domain": "screening", "filename": "/tmp/lib\x07.smi.gz", "name": "raw", "priority": 1},
        content=packed,
        headers={**api.headers, "Content-Type": "application/gzip"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["input_format"] == "smi"
    assert r.json()["input_sha256"] == hashlib.sha256(packed).hexdigest()
    assert r.json()["input_filename"] == "lib.smi.gz"

    sdf = b"ethanol\n  RDKit\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n"
    r = api.client.post(
        "/v1/jobs?domain=screening",
        content=sdf,
        headers={**api.headers, "Content-Type": "chemical/x-mdl-sdfile"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["input_format"] == "sdf"


def test_idempotency_key_same_request_replays_and_different_is_409(api: Api) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = api.submit_inline(["CCO"], headers=key)
    assert first.status_code == 202
    again = api.submit_inline(["CCO"], headers=key)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    changed = api.submit_inline(["CCN"], headers=key)
    err = assert_error(changed, 409, "IDEMPOTENCY_KEY_REUSED")
    assert err["details"]["job_id"] == first.json()["id"]
    assert assert_error(api.submit_inline(["CCO"], headers=key, priority=5), 409, "IDEMPOTENCY_KEY_REUSED")
    # The same bytes through another body shape, read the same way, are the same request...
    raw = api.client.post(
        "/v1/jobs",
        params={"domain": "screening", "parameters": json.dumps(PLATFORM_SCREENING)},
        content=b'"CCO"\n',
        headers={**api.headers, **key, "Content-Type": "text/plain"},
    )
    assert raw.status_code == 200 and raw.json()["id"] == first.json()["id"], raw.text
    # ...but read as another format they mean something else.
    as_smi = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=b'"CCO"\n',
        headers={**api.headers, **key, "Content-Type": "text/plain"},
    )
    assert_error(as_smi, 409, "IDEMPOTENCY_KEY_REUSED")

    listing = api.client.get("/v1/jobs", headers=api.headers).json()["items"]
    assert [j["id"] for j in listing] == [first.json()["id"]]
    # Keys are per project: another project may use the same key for its own job.
    other = {"Authorization": f"Bearer {api.new_token(api.project + '-b')}"}
    third = api.client.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"]}, headers={**other, **key})
    assert third.status_code == 202 and third.json()["id"] != first.json()["id"]


def test_concurrent_duplicates_create_one_job(api: Api) -> None:
    import threading

    from fastapi.testclient import TestClient

    key = {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    n = 6
    barrier = threading.Barrier(n)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def post() -> None:
        client = TestClient(api.client.app)
        barrier.wait()
        r = client.post(
            "/v1/jobs", json={"domain": "screening", "items": ["CCO", "CCN"]}, headers={**api.headers, **key}
        )
        with lock:
            outcomes.append((r.status_code, r.json().get("id", r.text)))

    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(code for code, _ in outcomes)
    assert codes == [200] * (n - 1) + [202], outcomes
    assert len({job_id for _, job_id in outcomes}) == 1

    from db.models import Job
    from db.session import unit_of_work

    with unit_of_work() as session:
        rows = session.execute(select(Job.id).where(Job.idempotency_key == key["Idempotency-Key"])).all()
    assert len(rows) == 1


def test_broker_down_still_202_and_leaves_the_job_for_the_sweeper(make_api) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import CLOSED_BROKER

    api: Api = make_api(broker_url=CLOSED_BROKER)
    r = api.submit_inline()
    assert r.status_code == 202, r.text
    job = job_row(r.json()["id"])
    assert job.status == "queued"
    assert job.ingest_dispatched_at is None


@pytest.mark.rabbitmq
def test_real_broker_receives_the_ingest_message_after_commit(make_api, amqp_url: str) -> None:  # type: ignore[no-untyped-def]
    from kombu import Connection

    from workers.dispatch import INGEST_TASK, ingest_queue

    api: Api = make_api(broker_url=amqp_url)
    r = api.submit_inline()
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert job_row(job_id).ingest_dispatched_at is not None

    found = []
    with Connection(amqp_url) as conn:
        channel: Any = conn.default_channel
        while True:
            message = channel.basic_get(queue=ingest_queue("screening"), no_ack=False)
            if message is None:
                break
            if message.headers.get("task") == INGEST_TASK and json.loads(message.body)[0] == [job_id]:
                found.append(message)
            channel.basic_ack(message.delivery_tag)
    assert len(found) == 1
