"""The dashboard's server side through the real app on the real PostgreSQL (no browser): the session cookie,
CSRF and Origin checks, escaping of everything a user controls, project isolation, the JSON API's read-only
use of the cookie, and error pages."""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from tests.api.conftest import Api, stored_files
from tests.api.rows import add_shards, set_job
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.postgres

ORIGIN = {"Origin": "http://testserver"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def login(api: Api, token: str | None = None) -> Any:
    api.client.cookies.clear()
    return api.client.post(
        "/ui/login", data={"token": token or api.token, "next": "/ui/jobs"}, headers=ORIGIN, follow_redirects=False
    )


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_pages_need_a_session_and_login_sets_a_strict_httponly_cookie(api: Api) -> None:
    r = api.client.get("/ui/jobs?status=queued", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui%2Fjobs%3Fstatus%3Dqueued"
    r = api.client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/jobs"

    r = login(api, "ms_" + "x" * 43)
    assert r.status_code == 401 and "invalid" in r.text and "set-cookie" not in r.headers

    r = login(api)
    assert r.status_code == 303 and r.headers["location"] == "/ui/jobs"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("medsieve_session=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/" in cookie
    assert api.token not in r.headers["location"]

    r = api.client.get("/ui/jobs")
    assert r.status_code == 200 and api.project in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert api.client.get("/ui/static/app.js").status_code == 200


def test_login_refuses_other_sites_and_never_redirects_off_site(api: Api) -> None:
    r = api.client.post("/ui/login", data={"token": api.token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    for target in ("https://evil.example/ui/jobs", "//evil.example/x", "/v1/jobs", "/ui\\@evil"):
        api.client.cookies.clear()
        r = api.client.post(
            "/ui/login", data={"token": api.token, "next": target}, headers=ORIGIN, follow_redirects=False
        )
        assert r.status_code == 303 and r.headers["location"] == "/ui/jobs", target


def test_user_controlled_text_is_escaped(api: Api) -> None:
    job_id = api.submit_inline(name=HOSTILE).json()["id"]
    (shard,) = add_shards(uuid.UUID(job_id), ["succeeded"])
    from db.models import ItemError
    from db.session import unit_of_work

    row = {"job_id": uuid.UUID(job_id), "shard_id": shard, "item_index": 0, "item_key": HOSTILE}
    with unit_of_work() as session:
        session.execute(insert(ItemError), [{**row, "code": "PARSE_ERROR", "message": f"Parse Error: {HOSTILE}"}])
    set_job(uuid.UUID(job_id), error_code="INVALID_INPUT", error_message=HOSTILE)
    login(api)
    for path in ("/ui/jobs", f"/ui/jobs/{job_id}", f"/ui/jobs/{job_id}/errors"):
        html = api.client.get(path).text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, path
        assert "<script>alert" not in html and "<img src=x" not in html, path


def test_another_projects_job_is_not_found_in_the_dashboard(api: Api) -> None:
    job_id = api.submit_inline(name="project A's job").json()["id"]
    login(api, api.new_token(f"other-{uuid.uuid4().hex[:8]}"))
    csrf = csrf_of(api.client.get("/ui/jobs").text)
    assert job_id not in api.client.get("/ui/jobs").text
    for path in ("", "/results", "/errors", "/provenance", "/worklist"):
        r = api.client.get(f"/ui/jobs/{job_id}{path}")
        assert r.status_code == 404 and "project A" not in r.text, path
    r = api.client.post(f"/ui/jobs/{job_id}/cancel", data={"csrf_token": csrf}, headers=ORIGIN)
    assert r.status_code == 404
    assert api.client.get(f"/v1/jobs/{job_id}").status_code == 404  # the JSON API with the same cookie
    assert api.client.get(f"/v1/jobs/{job_id}/export").status_code == 404
    assert api.client.get("/ui/jobs/not-a-uuid").status_code == 404


def test_cancel_needs_the_csrf_token_and_this_origin(api: Api) -> None:
    job_id = api.submit_inline().json()["id"]
    login(api)
    csrf = csrf_of(api.client.get(f"/ui/jobs/{job_id}").text)
    cancel = f"/ui/jobs/{job_id}/cancel"
    assert api.client.post(cancel, data={}, headers=ORIGIN).status_code == 403
    assert api.client.post(cancel, data={"csrf_token": "0" * 64}, headers=ORIGIN).status_code == 403
    evil = {"Origin": "https://evil.example"}
    assert api.client.post(cancel, data={"csrf_token": csrf}, headers=evil).status_code == 403
    referer = {"Referer": "https://evil.example/page"}
    assert api.client.post(cancel, data={"csrf_token": csrf}, headers=referer).status_code == 403
    assert api.client.get(f"/v1/jobs/{job_id}", headers=api.headers).json()["status"] == "queued"

    r = api.client.post(cancel, data={"csrf_token": csrf}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/jobs/{job_id}?notice=cancelled"
    assert api.client.get(f"/v1/jobs/{job_id}", headers=api.headers).json()["status"] == "cancelled"
    r = api.client.post(cancel, data={"csrf_token": csrf}, headers=ORIGIN, follow_redirects=False)
    assert r.headers["location"].endswith("notice=finished")


def test_the_cookie_only_reads_the_json_api(api: Api) -> None:
    job_id = api.submit_inline().json()["id"]
    login(api)
    assert api.client.get(f"/v1/jobs/{job_id}").status_code == 200
    r = api.client.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 401
    r = api.client.post("/v1/jobs", json={"domain": "screening", "items": ["C"]})
    assert r.status_code == 401


def test_submit_form_checks_csrf_before_storing_and_creates_the_job(api: Api) -> None:
    login(api)
    csrf = csrf_of(api.client.get("/ui/jobs/new").text)
    files = {"file": ("lib.smi", b"CCO ethanol\nc1ccccc1 benzene\n", "text/plain")}
    r = api.client.post("/ui/jobs", data={"domain": "screening"}, files=files, headers=ORIGIN)
    assert r.status_code == 403
    assert stored_files(api) == []

    r = api.client.post(
        "/ui/jobs", data={"domain": "screening", "parameters": "{not json", "csrf_token": csrf}, files=files,
        headers=ORIGIN,
    )  # fmt: skip
    assert r.status_code == 422 and "parameters must be a JSON object" in r.text and "{not json" in r.text

    data = {"csrf_token": csrf, "domain": "screening", "name": "from the form", "parameters": "{}", "priority": "3"}
    r = api.client.post("/ui/jobs", data=data, files=files, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/jobs/")
    job = api.client.get("/v1/jobs/" + r.headers["location"].rsplit("/", 1)[1], headers=api.headers).json()
    assert (job["name"], job["priority"], job["input_filename"], job["items_total"]) == (
        "from the form",
        3,
        "lib.smi",
        None,
    )


def test_results_page_reports_a_bad_filter_on_the_page(api: Api) -> None:
    job_id = api.submit_inline().json()["id"]
    login(api)
    r = api.client.get(f"/ui/jobs/{job_id}/results", params={"filter": "nope:eq:1"})
    assert r.status_code == 422 and "cannot filter on" in r.text and "Add filter" in r.text
    r = api.client.get(f"/ui/jobs/{job_id}/results", params={"sort": "-nope"})
    assert r.status_code == 422 and "cannot sort by" in r.text
    r = api.client.get(
        f"/ui/jobs/{job_id}/results", params={"f_col": "mw", "f_op": "ge", "f_val": "300"}, follow_redirects=False
    )
    assert r.status_code == 303 and "filter=mw%3Age%3A300" in r.headers["location"]
    assert "No results" in api.client.get(f"/ui/jobs/{job_id}/results").text
    assert api.client.get(f"/ui/jobs/{job_id}/worklist").status_code == 422  # a screening job has no worklist


def test_logout_clears_the_session(api: Api) -> None:
    login(api)
    csrf = csrf_of(api.client.get("/ui/jobs").text)
    r = api.client.post("/ui/logout", data={"csrf_token": csrf}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and 'medsieve_session=""' in r.headers["set-cookie"]
    assert api.client.get("/ui/jobs", follow_redirects=False).status_code == 303


def test_templates_and_static_files_ship_in_the_wheel() -> None:
    """package-data must cover every file under api/web/templates and api/web/static."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["api.web"]
    web = REPO_ROOT / "api" / "web"
    shipped = {p for pattern in patterns for p in web.glob(pattern)}
    wanted = {p for d in ("templates", "static") for p in (web / d).rglob("*") if p.is_file()}
    assert wanted and wanted <= shipped, sorted(str(Path(p).relative_to(web)) for p in wanted - shipped)
