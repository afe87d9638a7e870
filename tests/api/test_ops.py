"""Probes, metrics, outage behaviour, the error shape, OpenAPI, and the API staying light."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import CLOSED_BROKER, Api
from tests.api.rows import set_job
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.postgres

DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


def test_healthz_needs_nothing(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(database_url=DEAD_DATABASE, broker_url=CLOSED_BROKER)
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.rabbitmq
def test_readyz_with_real_database_and_broker(make_api, amqp_url: str) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(broker_url=amqp_url)
    r = api.client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_names_the_failed_dependency(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(broker_url=CLOSED_BROKER)
    r = api.client.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"] == "ok" and checks["broker"].startswith("error")

    api = make_api(database_url=DEAD_DATABASE)  # embedded broker: nothing to reach
    r = api.client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("error")
    assert r.json()["checks"]["broker"].startswith("skipped")


def test_database_outage_is_503_with_retry_after_in_the_error_shape(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(database_url=DEAD_DATABASE)
    for method, path in (("get", "/v1/jobs"), ("get", f"/v1/jobs/{uuid.uuid4()}")):
        r = getattr(api.client, method)(path, headers={"Authorization": "Bearer ms_" + "a" * 43})
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "5"
        assert r.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    r = api.client.post(
        "/v1/jobs", json={"domain": "screening", "items": ["C"]}, headers={"Authorization": "Bearer ms_x"}
    )
    assert r.status_code == 503


def test_unknown_route_uses_the_error_shape(api: Api) -> None:
    r = api.client.get("/v1/nothing-here", headers=api.headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NOT_FOUND"
    r = api.client.delete("/v1/jobs", headers=api.headers)
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def _scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_jobs_items_and_requests(make_api) -> None:  # type: ignore[no-untyped-def]
    api: Api = make_api(metrics_cache_s="0")  # every scrape reads the database (the default caches 5 s)
    queued = ("medsieve_jobs", (("domain", "screening"), ("state", "queued")))
    running = ("medsieve_jobs", (("domain", "screening"), ("state", "running")))
    ok_items = ("medsieve_items_total", (("domain", "screening"), ("outcome", "succeeded")))
    bad_items = ("medsieve_items_total", (("domain", "screening"), ("outcome", "failed")))
    before = _scrape(api)
    job_id = api.submit_inline().json()["id"]
    second = api.submit_inline(["N"]).json()["id"]
    set_job(uuid.UUID(second), status="running", items_succeeded=7, items_failed=2)
    api.client.get(f"/v1/jobs/{job_id}", headers=api.headers)
    api.client.get(f"/v1/jobs/{uuid.uuid4()}", headers=api.headers)
    after = _scrape(api)
    assert after[queued] == before[queued] + 1
    assert after[running] == before[running] + 1
    assert after[ok_items] == before[ok_items] + 7
    assert after[bad_items] == before[bad_items] + 2
    assert after[("medsieve_metrics_database_up", ())] == 1

    def requests(status: str) -> float:
        key = (
            "medsieve_http_requests_total",
            (("method", "GET"), ("route", "/v1/jobs/{job_id}"), ("status", status)),
        )
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert requests("200") == 1 and requests("404") == 1
    count = ("medsieve_http_request_duration_seconds_count", (("method", "POST"), ("route", "/v1/jobs")))
    assert after[count] - before.get(count, 0.0) == 2
    # Raw paths never become labels (bounded cardinality).
    assert not [k for k in after if any(job_id in v for _, v in k[1])]


def test_openapi_describes_the_api(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/results",
        "/v1/jobs/{job_id}/export",
        "/v1/jobs/{job_id}/errors",
        "/v1/jobs/{job_id}/provenance",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(paths)
    submit = paths["/v1/jobs"]["post"]
    assert {"application/json", "multipart/form-data", "application/octet-stream"} <= set(
        submit["requestBody"]["content"]
    )
    assert {"202", "409", "413", "422"} <= set(submit["responses"])
    assert "JobDetail" in spec["components"]["schemas"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_the_api_never_imports_heavy_libraries(pg_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Submit (format detection included), read and export in a fresh interpreter; rdkit/torch stay out."""
    script = textwrap.dedent(
        """
        import sys, uuid
        from fastapi.testclient import TestClient
        from api.app import create_app
        from api.services.projects import create_token
        from db.session import unit_of_work
        with unit_of_work() as s:
            token = create_token(s, "light-" + uuid.uuid4().hex, "t")
        h = {"Authorization": "Bearer " + token}
        c = TestClient(create_app())
        job = c.post("/v1/jobs", files={"file": ("a.sdf.gz", b"")}, data={"domain": "screening"}, headers=h)
        job = c.post("/v1/jobs?domain=screening&filename=a.csv", content=b"smiles\\nCCO\\n",
                     headers={**h, "Content-Type": "text/plain"}).json()
        assert c.get(f"/v1/jobs/{job['id']}/results", headers=h).status_code == 200
        assert c.get(f"/v1/jobs/{job['id']}/export?format=parquet", headers=h).status_code == 200
        heavy = sorted(m for m in ("rdkit", "torch", "transformers", "pydicom", "Bio") if m in sys.modules)
        print("HEAVY", heavy)
        """
    )
    env = {
        **os.environ,
        "MEDSIEVE_DATABASE_URL": pg_url,
        "MEDSIEVE_BROKER_URL": "",
        "MEDSIEVE_DATA_DIR": str(tmp_path / "data"),
    }
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


def test_unexpected_errors_are_500_without_internals(api: Api) -> None:
    from fastapi.testclient import TestClient

    app = api.client.app

    @app.get("/boom")  # type: ignore[attr-defined, untyped-decorator]
    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "INTERNAL", "message": "internal server error", "details": {}}}
    assert "secret" not in r.text and "Traceback" not in r.text
