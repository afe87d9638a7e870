"""Triage end to end on the real stack: a PACS-style zip of real DICOM with planted identifiers goes through
the API and a real worker process on PostgreSQL and RabbitMQ. Every instance ends scored or with its code, the
worklist is ordered by urgency, and no planted identifier reaches the database, the logs, the broker's
messages, the thumbnails or the error texts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from core.artifacts import artifact_path
from tests.e2e.harness import Stack, accepted, running_stack, submit_file, wait_job, walk
from tests.triage import dicom_cases

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]


@pytest.fixture(scope="module")
def triage_stack(pg_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(pg_url, amqp_url, tmp_path_factory.mktemp("triage-stack"), workers=0) as s:
        s.start_worker("triage-worker", concurrency=1, queues="triage.cpu")
        yield s


@pytest.fixture()
def broker_tap(amqp_url: str) -> Iterator[Any]:
    """A queue bound to our exchange with '#': it receives a copy of every message the API and workers
    publish, so the test can read exactly what travelled through RabbitMQ."""
    tap = Queue(f"test-tap-{uuid.uuid4().hex[:8]}", Exchange("medsieve", type="topic", durable=True), "#")
    with Connection(amqp_url) as conn:
        tap(conn.default_channel).declare()
        yield conn, tap
        tap(conn.default_channel).delete()


def _tapped_bodies(conn: Connection, tap: Queue) -> list[bytes]:
    bodies = []
    bound = tap(conn.default_channel)
    while (message := bound.get(no_ack=True)) is not None:
        bodies.append(message.body if isinstance(message.body, bytes) else str(message.body).encode())
        bodies.append(repr(message.headers).encode())
    return bodies


def _database_values(job_id: str) -> Iterator[Any]:
    """Every value of every row of every table that belongs to this job (or is global, like audit)."""
    from sqlalchemy import select

    from db.base import Base
    from db.session import unit_of_work

    with unit_of_work() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():
                yield from row


def _leaks(haystack: bytes) -> list[str]:
    return [n for n in dicom_cases.PHI_NEEDLES if n.encode() in haystack or n.upper().encode() in haystack]


def test_triage_job_scores_codes_and_leaks_nothing(triage_stack: Stack, broker_tap: Any, tmp_path: Path) -> None:
    conn, tap = broker_tap
    cases = dicom_cases.cases()
    expected = dicom_cases.expected_codes(cases)
    client = triage_stack.client(f"triage-{uuid.uuid4().hex[:8]}")
    upload = dicom_cases.archive(cases)
    r = submit_file(client, upload, f"{dicom_cases.MEMBER_DIR}.zip", domain="triage", content_type="application/zip")
    job_id = accepted(r)
    job = wait_job(client, job_id, timeout=300, logs=triage_stack.logs)
    assert job["status"] == "succeeded", job
    assert job["input_filename"] is None

    results = {row["item_index"]: row for row in walk(client, f"/v1/jobs/{job_id}/results", {"limit": 100})}
    errors = {row["item_index"]: row for row in walk(client, f"/v1/jobs/{job_id}/errors", {"limit": 100})}
    # Every item has exactly one terminal state, with the outcome its case calls for.
    assert set(results) | set(errors) == set(range(len(expected)))
    assert not set(results) & set(errors)
    got = {i: (errors[i]["code"] if i in errors else None) for i in range(len(expected))}
    assert got == dict(enumerate(expected)), {i: errors.get(i, {}).get("message") for i in got}
    assert job["counts"]["items_succeeded"] == len(results) and job["counts"]["items_failed"] == len(errors)

    # The chest radiographs are scored; everything else is stored unscored with its reason.
    for i, case in enumerate(cases):
        if case.code is not None:
            continue
        row = results[i]
        assert (row["probability"] is not None) is case.scored, row
        assert row["priority"] in (("high", "medium", "low") if case.scored else ("not_scored",))
        assert row["reasons"]
        assert row["study_uid"].startswith("2.25.") and row["study_uid"] != dicom_cases.STUDY_UID
    chest, chest_j2k = results[0], results[1]
    # The same image, uncompressed and JPEG 2000 (lossy): one study, one series, close probabilities.
    assert chest["series_uid"] == chest_j2k["series_uid"]
    assert abs(chest["probability"] - chest_j2k["probability"]) < 0.05

    worklist = client.get(f"/v1/jobs/{job_id}/worklist").json()
    urgency = [(s["priority"], s["max_probability"]) for s in worklist["items"]]
    order = {"high": 3, "medium": 2, "low": 1, "not_scored": 0}
    keys = [(order[p], prob if prob is not None else -1) for p, prob in urgency]
    assert keys == sorted(keys, reverse=True)
    assert sum(s["instances"] for s in worklist["items"]) == len(results)

    pngs = []
    for i in results:
        thumb = client.get(f"/v1/jobs/{job_id}/images/{i}/thumbnail.png")
        assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
        pngs.append(thumb.content)
        saliency = client.get(f"/v1/jobs/{job_id}/images/{i}/saliency.png")
        if results[i]["priority"] in ("high", "medium"):
            assert saliency.status_code == 200
            pngs.append(saliency.content)
        else:
            assert saliency.status_code == 404

    # No planted identifier anywhere: database (every table), logs, broker messages, PNGs, errors, exports.
    for value in _database_values(job_id):
        blob = value if isinstance(value, bytes) else str(value).encode()
        assert not _leaks(blob), (_leaks(blob), str(value)[:200])
    for log in sorted(triage_stack.log_dir.glob("*.log")):
        assert not _leaks(log.read_bytes()), log.name
    bodies = _tapped_bodies(conn, tap)
    assert bodies, "the tap saw no messages: it is not bound where tasks are published"
    for body in bodies:
        assert not _leaks(body), body[:300]
    for png in pngs:
        assert not _leaks(png)
    for row in errors.values():
        assert not _leaks(row["message"].encode()), row
    export = client.get(f"/v1/jobs/{job_id}/export", params={"format": "csv"})
    assert export.status_code == 200 and not _leaks(export.content)

    # The identified upload itself is deleted by the sweeper once its only job has ended.
    stored = artifact_path(triage_stack.data_dir.resolve() / "artifacts", job["input_sha256"])
    deadline = time.monotonic() + 30
    while stored.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not stored.exists(), "the identifiable input was not purged after its job ended"


def test_stow_rs_job_runs_like_a_zip(triage_stack: Stack) -> None:
    cases = [c for c in dicom_cases.cases() if c.name in ("chest.dcm", "ct.dcm", "photo.png")]
    client = triage_stack.client(f"stow-{uuid.uuid4().hex[:8]}")
    boundary = "b0undary"
    body = (
        b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + c.data + b"\r\n" for c in cases)
        + f"--{boundary}--\r\n".encode()
    )
    r = client.post(
        "/v1/dicomweb/studies",
        content=body,
        headers={"Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'},
    )
    job_id = accepted(r)
    job = wait_job(client, job_id, timeout=180, logs=triage_stack.logs)
    assert job["status"] == "succeeded"
    assert job["counts"]["items_succeeded"] == 2 and job["counts"]["items_failed"] == 1
    errors = list(walk(client, f"/v1/jobs/{job_id}/errors"))
    assert [e["code"] for e in errors] == ["NOT_DICOM"]
