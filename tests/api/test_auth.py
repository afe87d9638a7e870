"""Authentication, project scoping and the per-token rate limit."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.api.conftest import Api, make_token, unique
from tests.api.rows import add_shards

pytestmark = pytest.mark.postgres

JOB_ROUTES = [
    ("get", "/v1/jobs/{id}"),
    ("post", "/v1/jobs/{id}/cancel"),
    ("get", "/v1/jobs/{id}/results"),
    ("get", "/v1/jobs/{id}/export?format=csv"),
    ("get", "/v1/jobs/{id}/export?format=parquet"),
    ("get", "/v1/jobs/{id}/errors"),
    ("get", "/v1/jobs/{id}/provenance"),
]


def test_missing_malformed_unknown_token_are_401(api: Api) -> None:
    c = api.client
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer ms_" + "x" * 43},
        {"Authorization": "Bearer not-our-format"},
    ):
        r = c.get("/v1/jobs", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
        assert r.json()["error"]["message"]
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert c.get("/v1/jobs", headers=api.headers).status_code == 200


def test_only_the_hash_is_stored_and_revoked_tokens_are_refused(make_api: Callable[..., Api]) -> None:
    from api.services.projects import hash_token
    from db.models import ApiToken
    from db.repositories.tokens import revoke
    from db.session import unit_of_work

    api = make_api(token_cache_ttl_s=0.5)
    assert api.token.startswith("ms_") and len(api.token) >= 40
    with unit_of_work() as session:
        row = session.execute(
            select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(api.token.encode()).hexdigest())
        ).scalar_one()
        assert row.token_hash == hash_token(api.token) != api.token
        stored = [t.token_hash for t in session.execute(select(ApiToken)).scalars()]
        assert api.token not in stored
        token_id = row.id
    assert api.client.get("/v1/jobs", headers=api.headers).status_code == 200
    with unit_of_work() as session:
        assert revoke(session, token_id)
    revoked_at = time.monotonic()
    # The process trusts a verified token for token_cache_ttl_s (documented), then looks it up again.
    while (r := api.client.get("/v1/jobs", headers=api.headers)).status_code == 200:
        assert time.monotonic() - revoked_at < 0.5 + 0.5, "revocation did not take effect within the cache TTL"
        time.sleep(0.05)
    assert r.status_code == 401
    assert "revoked" in r.json()["error"]["message"]


def test_create_token_reuses_the_project_and_audits(api: Api) -> None:
    from db.models import AuditEvent, Project
    from db.session import unit_of_work

    second = make_token(api.project, "second")
    assert second != api.token
    with unit_of_work() as session:
        projects = session.execute(select(Project).where(Project.name == api.project)).scalars().all()
        assert len(projects) == 1
        actions = (
            session.execute(
                select(AuditEvent.action).where(AuditEvent.project_id == projects[0].id).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert actions == ["project.create", "token.create", "token.create"]
    # Both tokens act for the same project: a job made with one is visible with the other.
    job_id = api.submit_inline().json()["id"]
    r = api.client.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 200


def test_another_projects_job_is_404_exactly_like_a_missing_one(api: Api) -> None:
    job_id = api.submit_inline().json()["id"]
    add_shards(uuid.UUID(job_id), ["queued"])
    other = {"Authorization": f"Bearer {make_token(unique('other'))}"}
    missing = str(uuid.uuid4())
    for method, template in JOB_ROUTES:
        theirs = getattr(api.client, method)(template.format(id=job_id), headers=other)
        absent = getattr(api.client, method)(template.format(id=missing), headers=other)
        assert theirs.status_code == absent.status_code == 404, template
        assert theirs.json()["error"]["code"] == "NOT_FOUND"
        assert theirs.json()["error"]["message"].replace(job_id, "X") == absent.json()["error"]["message"].replace(
            missing, "X"
        )
    listing = api.client.get("/v1/jobs", headers=other).json()
    assert listing["items"] == []
    # The foreign cancel did nothing: the owner still sees a queued job and a queued shard.
    mine = api.client.get(f"/v1/jobs/{job_id}", headers=api.headers).json()
    assert mine["status"] == "queued"
    assert mine["shards"]["by_status"] == {"queued": 1}


def test_bodies_cannot_set_project_status_or_owner(api: Api) -> None:
    for field, value in (("project", "someone-else"), ("project_id", str(uuid.uuid4())), ("status", "succeeded")):
        fields: dict[str, Any] = {field: value}
        r = api.submit_inline(**fields)
        assert r.status_code == 422, field
        assert field in str(r.json()["error"]["details"])
    r = api.client.post(
        "/v1/jobs",
        headers=api.headers,
        data={"domain": "screening", "project": "someone-else"},
        files={"file": ("a.smi", b"CCO\n")},
    )
    assert r.status_code == 422
    assert "project" in r.json()["error"]["message"]


def test_rate_limit_is_per_token_with_retry_after(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(rate_limit_rps="0.2", rate_limit_burst="3")
    statuses = [api.client.get("/v1/jobs", headers=api.headers).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    r = api.client.get("/v1/jobs", headers=api.headers)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["Retry-After"]) <= 5
    # Another tenant is unaffected by the storm.
    other = {"Authorization": f"Bearer {make_token(unique('calm'))}"}
    assert api.client.get("/v1/jobs", headers=other).status_code == 200
