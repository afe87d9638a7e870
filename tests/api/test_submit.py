"""POST /v1/jobs: the three body shapes, stored artifacts, validation outcomes and upload limits."""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.artifacts import artifact_path
from tests.api.conftest import Api

pytestmark = pytest.mark.postgres

SMI = b"CCO ethanol\nc1ccccc1 benzene\nCC(=O)O acetic\n"


def stored_files(api: Api) -> list[Path]:
    root = api.data_dir / "artifacts"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def job_row(job_id: str):  # type: ignore[no-untyped-def]
    from db.models import Job
    from db.session import unit_of_work

    with unit_of_work() as session:
        return session.get(Job, uuid.UUID(job_id))


def assert_error(r, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def test_inline_json_items_become_a_jsonl_artifact(api: Api) -> None:
    items = ["CCO", {"smiles": "c1ccccc1", "id": "benzene"}]
    r = api.submit_inline(items, name="  inline run ", priority=3, parameters={"rank_by": "qed"})
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
    assert body["parameters"]["rank_by"] == "qed" and "input_format" in body["parameters"]

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
        "/v1/jobs?domain=screening",
        content=b'"CCO"\n',
        headers={**api.headers, **key, "Content-Type": "text/plain"},
    )
    assert raw.status_code == 200 and raw.json()["id"] == first.json()["id"]
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


def test_content_length_over_the_cap_is_413_before_reading(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(max_upload_bytes="1000")
    r = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=b"C" * 1001,
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert stored_files(api) == []


def _chunks(total: int, size: int = 256) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"CCO\n"[:n] if n < 4 else b"CCO\n" * (n // 4) + b"C" * (n % 4)


def test_streamed_body_over_the_cap_is_413_and_leaves_no_partial_file(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(max_upload_bytes="1000")
    # A generator body is sent chunked, without Content-Length: only the streaming cap can stop it.
    r = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=_chunks(5000),
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # Multipart: the body cap leaves room for form fields, so the file part's own cap is what trips.
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening"},
        files={"file": ("a.smi", b"CCO\n" * 300)},
    )
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert stored_files(api) == []
    # Just under the cap is fine.
    ok = api.client.post(
        "/v1/jobs?domain=screening&filename=a.smi",
        content=_chunks(1000),
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert ok.status_code == 202, ok.text
    assert ok.json()["input_bytes"] == 1000


def test_empty_input_is_422_empty_input_in_every_shape(api: Api) -> None:
    inline = api.client.post("/v1/jobs", json={"domain": "screening", "items": []}, headers=api.headers)
    assert_error(inline, 422, "EMPTY_INPUT")
    assert_error(
        api.client.post("/v1/jobs", headers=api.headers, data={"domain": "screening"}, files={"file": ("a.smi", b"")}),
        422,
        "EMPTY_INPUT",
    )
    assert_error(
        api.client.post(
            "/v1/jobs?domain=screening", content=b"", headers={**api.headers, "Content-Type": "text/plain"}
        ),
        422,
        "EMPTY_INPUT",
    )
    assert stored_files(api) == []


def test_binary_file_is_rejected_with_a_4xx_and_not_stored(api: Api) -> None:
    blob = bytes(range(256)) * 64
    r = api.client.post(
        "/v1/jobs", headers=api.headers, data={"domain": "screening"}, files={"file": ("lib.smi", blob)}
    )
    err = assert_error(r, 422, "INVALID_INPUT")
    assert "binary" in err["message"]
    r = api.client.post(
        "/v1/jobs?domain=screening",
        content=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        headers={**api.headers, "Content-Type": "application/octet-stream"},
    )
    assert_error(r, 422, "INVALID_INPUT")
    assert stored_files(api) == []


def test_bad_parameters_are_422_with_pydantic_messages(api: Api) -> None:
    err = assert_error(api.submit_inline(parameters={"no_such_option": 1}), 422, "INVALID_PARAMETERS")
    assert err["details"]["errors"][0]["loc"] == ["no_such_option"]
    err = assert_error(api.submit_inline(parameters={"input_format": "pdf"}), 422, "INVALID_PARAMETERS")
    assert "input_format" in err["details"]["errors"][0]["loc"]
    assert err["details"]["errors"][0]["msg"].startswith("Input should be")
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening", "parameters": '{"rank_by": "mw"}'},
        files={"file": ("a.smi", SMI)},
    )
    assert_error(r, 422, "INVALID_PARAMETERS")
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening", "parameters": "{not json"},
        files={"file": ("a.smi", SMI)},
    )
    assert_error(r, 422, "INVALID_INPUT")
    assert stored_files(api) == []


def test_unknown_domain_device_priority_are_422(api: Api) -> None:
    err = assert_error(
        api.client.post("/v1/jobs", json={"domain": "astrology", "items": ["CCO"]}, headers=api.headers),
        422,
        "UNKNOWN_DOMAIN",
    )
    assert "screening" in err["details"]["available"]
    r = api.client.post("/v1/jobs?domain=astrology", content=SMI, headers={**api.headers, "Content-Type": "text/plain"})
    assert_error(r, 422, "UNKNOWN_DOMAIN")
    assert_error(api.submit_inline(device="tpu"), 422, "INVALID_INPUT")
    assert_error(api.submit_inline(priority=99), 422)
    r = api.client.post(
        "/v1/jobs?domain=screening&priority=-1", content=SMI, headers={**api.headers, "Content-Type": "text/plain"}
    )
    assert_error(r, 422, "INVALID_INPUT")
    gpu = api.submit_inline(device="GPU")
    assert gpu.status_code == 202 and gpu.json()["device"] == "gpu"
    assert stored_files(api) != []  # only the accepted job's input


def test_malformed_requests_are_4xx_with_messages(api: Api) -> None:
    h = api.headers
    assert_error(
        api.client.post("/v1/jobs", content=b"{nope", headers={**h, "Content-Type": "application/json"}),
        400,
        "MALFORMED_BODY",
    )
    assert_error(
        api.client.post("/v1/jobs", content=b"%PDF", headers={**h, "Content-Type": "application/pdf"}),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    # urlencoded forms are not one of the three shapes
    assert_error(api.client.post("/v1/jobs", headers=h, data={"domain": "screening"}), 415)
    no_file = api.client.post("/v1/jobs", headers=h, files=[("domain", (None, "screening"))])
    assert "no 'file' part" in assert_error(no_file, 422)["message"]
    assert_error(
        api.client.post("/v1/jobs", headers=h, data={"domain": "screening"}, files={"other": ("a.smi", SMI)}),
        422,
    )
    assert_error(
        api.client.post(
            "/v1/jobs",
            headers=h,
            data={"domain": "screening"},
            files=[("file", ("a.smi", SMI)), ("file", ("b.smi", SMI))],
        ),
        400,
    )
    # U2: a flood of tiny fields is refused at the first part that is not one of the few allowed ones.
    flood = b"".join(b'--b\r\nContent-Disposition: form-data; name="domain"\r\n\r\nx\r\n' for _ in range(100_000))
    r = api.client.post(
        "/v1/jobs", content=flood + b"--b--\r\n", headers={**h, "Content-Type": "multipart/form-data; boundary=b"}
    )
    assert "twice" in assert_error(r, 400)["message"]
    r = api.client.post(
        "/v1/jobs", headers=h, data={"domain": "screening", "name": "n" * 70_000}, files={"file": ("a.smi", SMI)}
    )
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    boundary = "xyz"
    truncated = f'--{boundary}\r\nContent-Disposition: form-data; name="domain"\r\n\r\nscreening\r\n--{boundary}\r\n'
    truncated += 'Content-Disposition: form-data; name="file"; filename="a.smi"\r\n\r\nCCO\n'
    r = api.client.post(
        "/v1/jobs",
        content=truncated.encode(),
        headers={**h, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_error(r, 400, "MALFORMED_BODY")
    r = api.client.post("/v1/jobs?domain=screening", json={"domain": "screening", "items": ["CCO"]}, headers=h)
    assert_error(r, 422)
    assert stored_files(api) == []


def test_inline_items_are_capped(api: Api) -> None:
    from api.schemas import MAX_INLINE_ITEMS

    r = api.client.post(
        "/v1/jobs", json={"domain": "screening", "items": ["C"] * (MAX_INLINE_ITEMS + 1)}, headers=api.headers
    )
    err = assert_error(r, 422)
    assert "items" in json.dumps(err["details"])
