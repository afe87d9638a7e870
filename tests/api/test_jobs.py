"""Listing, status detail and cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.api.conftest import Api
from tests.api.rows import add_shards, set_job

pytestmark = pytest.mark.postgres


def _submit_many(api: Api, n: int) -> list[str]:
    ids = []
    for i in range(n):
        r = api.submit_inline([f"C{'C' * i}O"], name=f"job-{i}")
        assert r.status_code == 202
        ids.append(r.json()["id"])
    return ids


def test_list_is_newest_first_with_keyset_pages_and_filters(api: Api) -> None:
    ids = _submit_many(api, 7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    # Two jobs share a timestamp so the id tie-breaker is exercised.
    stamps = [base + timedelta(minutes=m) for m in (0, 1, 2, 2, 3, 4, 5)]
    for job_id, stamp in zip(ids, stamps, strict=True):
        set_job(uuid.UUID(job_id), created_at=stamp)
    set_job(uuid.UUID(ids[1]), status="running")
    set_job(uuid.UUID(ids[4]), status="succeeded")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = api.client.get("/v1/jobs", params=params, headers=api.headers)
        assert r.status_code == 200
        body = r.json()
        assert len(body["items"]) <= 2
        seen += [j["id"] for j in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = [
        j for _, j in sorted(zip(stamps, ids, strict=True), key=lambda p: (p[0], uuid.UUID(p[1])), reverse=True)
    ]
    assert seen == expected
    assert pages == 4

    def ids_for(**params: str) -> list[str]:
        r = api.client.get("/v1/jobs", params=params, headers=api.headers)
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["items"]]

    assert ids_for(status="running") == [ids[1]]
    assert set(ids_for(status="queued")) == set(ids) - {ids[1], ids[4]}
    assert ids_for(domain="literature") == []
    assert len(ids_for(domain="screening")) == 7
    after = (base + timedelta(minutes=2)).isoformat()
    before = (base + timedelta(minutes=4)).isoformat()
    assert set(ids_for(created_after=after, created_before=before)) == {ids[2], ids[3], ids[4]}
    assert api.client.get("/v1/jobs", params={"status": "bogus"}, headers=api.headers).status_code == 422
    assert api.client.get("/v1/jobs", params={"limit": 201}, headers=api.headers).status_code == 422
    r = api.client.get("/v1/jobs", params={"cursor": "not-a-cursor"}, headers=api.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_CURSOR"
    r = api.client.get("/v1/jobs", params={"created_after": "2026-01-01T00:00:00"}, headers=api.headers)
    assert r.status_code == 422
    for number in ("1.2007221905396213e-21", "1767225600"):  # Unix seconds: not the date-time the schema names
        r = api.client.get("/v1/jobs", params={"created_before": number}, headers=api.headers)
        assert r.status_code == 422 and "ISO 8601" in r.json()["error"]["message"], r.text


def test_detail_reports_counts_shards_throughput_and_eta(api: Api) -> None:
    job_id = api.submit_inline().json()["id"]
    jid = uuid.UUID(job_id)
    add_shards(jid, ["succeeded", "succeeded", "running", "queued", "queued", "failed"], size=100)
    started = datetime.now(UTC) - timedelta(seconds=100)
    set_job(
        jid,
        status="running",
        items_total=1000,
        items_ingested=600,
        items_succeeded=300,
        items_failed=100,
        shards_total=10,
        shards_created=6,
        shards_done=3,
        started_at=started,
        error_code=None,
    )
    body = api.client.get(f"/v1/jobs/{job_id}", headers=api.headers).json()
    assert body["counts"] == {
        "items_total": 1000,
        "items_ingested": 600,
        "items_succeeded": 300,
        "items_failed": 100,
        "items_pending": 600,
    }
    assert body["shards"] == {
        "total": 10,
        "created": 6,
        "done": 3,
        "by_status": {"succeeded": 2, "running": 1, "queued": 2, "failed": 1},
    }
    # 400 items done in ~100 s -> ~4 items/s; 600 pending -> ~150 s.
    assert body["throughput_items_per_s"] == pytest.approx(4.0, rel=0.05)
    assert body["eta_s"] == pytest.approx(150.0, rel=0.05)

    set_job(jid, status="failed", finished_at=started + timedelta(seconds=50), error_code="X", error_message="boom")
    body = api.client.get(f"/v1/jobs/{job_id}", headers=api.headers).json()
    assert body["throughput_items_per_s"] == pytest.approx(8.0)  # measured up to finished_at, not now
    assert body["eta_s"] == 0.0
    assert (body["error_code"], body["error_message"]) == ("X", "boom")

    fresh = api.submit_inline(["N"]).json()
    assert fresh["throughput_items_per_s"] is None and fresh["eta_s"] is None
    assert fresh["counts"]["items_pending"] == 0 and fresh["shards"]["by_status"] == {}
    assert api.client.get("/v1/jobs/not-a-uuid", headers=api.headers).status_code == 422


def test_cancel_stops_queued_shards_audits_and_refuses_terminal_jobs(api: Api) -> None:
    from db.models import AuditEvent, Shard
    from db.session import unit_of_work

    job_id = api.submit_inline().json()["id"]
    jid = uuid.UUID(job_id)
    add_shards(jid, ["succeeded", "running", "queued", "queued"])
    set_job(jid, status="running")

    r = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=api.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled" and body["finished_at"] is not None
    assert body["shards"]["by_status"] == {"succeeded": 1, "running": 1, "cancelled": 2}
    with unit_of_work() as session:
        statuses = session.execute(select(Shard.status).where(Shard.job_id == jid).order_by(Shard.index)).scalars()
        assert list(statuses) == ["succeeded", "running", "cancelled", "cancelled"]
        events = (
            session.execute(
                select(AuditEvent).where(AuditEvent.target == f"job:{job_id}", AuditEvent.action == "job.cancel")
            )
            .scalars()
            .all()
        )
        assert len(events) == 1 and events[0].details == {"previous_status": "running", "shards_cancelled": 2}

    again = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=api.headers)
    assert again.status_code == 409 and again.json()["error"]["details"]["status"] == "cancelled"
    done = api.submit_inline(["CN"]).json()["id"]
    set_job(uuid.UUID(done), status="succeeded")
    assert api.client.post(f"/v1/jobs/{done}/cancel", headers=api.headers).status_code == 409
    queued = api.submit_inline(["CCl"]).json()["id"]
    assert api.client.post(f"/v1/jobs/{queued}/cancel", headers=api.headers).json()["status"] == "cancelled"
