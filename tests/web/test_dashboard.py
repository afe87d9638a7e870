"""The dashboard in a real browser (headless Chromium) against the real stack: sign in with a token, submit the
shipped example library through the form, watch the live progress bar reach the end, open the results, sort
and filter them, open the item errors and the provenance, cancel a running job, and read a triage worklist
with its de-identified thumbnails. Every page is screenshotted."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.harness import Stack, accepted, wait_job
from tests.web.conftest import VIEWPORT, signed_in

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

EXAMPLE = REPO_ROOT / "examples" / "library.smi"
CANCEL_LIBRARY_ROWS = 10_000
JOB_TIMEOUT_MS = 240_000

Shot = Callable[[Any, str], Path]


def _api(stack: Stack, token: str) -> httpx.Client:
    client = httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    stack.clients.append(client)
    return client


def _screening_parameters() -> str:
    """The defaults, except the ADMET-AI panel where the screening domain has one: its Chemprop ensemble takes
    minutes per thousand molecules on a CPU, and the dashboard, not ADMET, is under test here."""
    from workers.screening.params import ScreeningParams

    return json.dumps({"admet": False}) if "admet" in ScreeningParams.model_fields else "{}"


def _submit_form(page: Any, file: Path, *, domain: str = "screening", name: str = "", parameters: str = "{}") -> str:
    page.goto("/ui/jobs/new")
    page.select_option("#domain", domain)
    page.fill("#name", name)
    page.fill("#parameters", parameters)
    page.set_input_files("#file", str(file))
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/jobs/[0-9a-f-]{36}$"))
    return str(page.url).rsplit("/", 1)[1]


def _wait_status(page: Any, statuses: str, timeout_ms: int = JOB_TIMEOUT_MS) -> str:
    """Until the job page shows one of `statuses` as rendered by the server: the live badge (polling) changes
    first, then the page reloads itself to show the finished job."""
    wanted = statuses.split("|")
    page.wait_for_function(
        "(wanted) => { const el = document.querySelector('.heading[data-rendered]');"
        " return el && wanted.includes(el.getAttribute('data-rendered')); }",
        arg=wanted,
        timeout=timeout_ms,
    )
    return str(page.get_attribute(".heading[data-rendered]", "data-rendered"))


def _column(page: Any, name: str) -> list[float]:
    return [float(t.replace(",", "")) for t in page.locator(f"td[data-col={name}]").all_text_contents()]


def _images_loaded(page: Any, selector: str, first: int = 1000) -> list[dict[str, Any]]:
    """The first `first` images (lazy ones further down load only when scrolled to) once each has a picture:
    its own, or the neutral placeholder it fell back to."""
    script = "([sel, n]) => [...document.querySelectorAll(sel)].slice(0, n).every(i => i.naturalWidth > 0)"
    page.wait_for_function(script, arg=[selector, first], timeout=20_000)
    return list(
        page.eval_on_selector_all(
            selector, "(els, n) => els.slice(0, n).map(i => ({src: i.currentSrc, width: i.naturalWidth}))", first
        )
    )


def test_submit_watch_results_errors_provenance(browser: Any, dash: Stack, shot: Shot) -> None:
    token = dash.token(f"web-{uuid.uuid4().hex[:8]}")
    context = browser.new_context(base_url=dash.base_url, viewport=VIEWPORT)
    page = context.new_page()
    page.goto("/ui/jobs")
    assert "/ui/login" in page.url
    shot(page, "01-login")
    page.fill("#token", "ms_not-a-real-token")
    page.click("button[type=submit]")
    assert "invalid" in str(page.text_content("[role=alert]"))
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/jobs")
    assert token not in page.url  # the token never travels in a URL
    shot(page, "02-jobs-empty")

    page.goto("/ui/jobs/new")
    shot(page, "03-submit")
    job_id = _submit_form(page, EXAMPLE, name="NCI example library", parameters=_screening_parameters())
    shot(page, "04-job-submitted")
    assert _wait_status(page, "succeeded|failed") == "succeeded"
    assert page.text_content("[data-field=items_succeeded]") == "323"
    assert page.text_content("[data-field=items_failed]") == "3"
    assert page.locator(".card [data-field=bar]").get_attribute("value") == "100.0"
    codes = page.inner_text("ul.codes")
    assert "PARSE_ERROR" in codes or "SANITIZE_ERROR" in codes
    shot(page, "05-job-succeeded")

    # Results: structure drawings (or the neutral placeholder where none was drawn) and the key properties.
    page.click("nav.tabs >> text=Results")
    page.wait_for_url(f"**/ui/jobs/{job_id}/results")
    assert page.locator("table[data-test=results-table] tbody tr").count() == 50
    pics = _images_loaded(page, "td.pic-cell img", first=5)
    assert len(pics) == 5 and all(p["width"] > 0 for p in pics), pics
    scores = _column(page, "score")
    assert scores == sorted(scores, reverse=True)
    shot(page, "06-results")

    page.click("a[data-sort=mw]")  # descending first
    page.wait_for_url(re.compile(r".*sort=-mw.*"))
    mws = _column(page, "mw")
    assert mws == sorted(mws, reverse=True) and len(mws) == 50
    page.click("a[data-sort=mw]")  # then ascending
    page.wait_for_url(re.compile(r".*sort=mw(&|$).*"))
    mws = _column(page, "mw")
    assert mws == sorted(mws)

    page.select_option("select[name=f_col]", "mw")
    page.select_option("select[name=f_op]", "ge")
    page.fill("input[name=f_val]", "300")
    page.click("form[data-test=filter-form] button")
    page.wait_for_url(re.compile(r".*filter=mw%3Age%3A300.*"))
    mws = _column(page, "mw")
    assert mws and all(v >= 300 for v in mws) and mws == sorted(mws)
    assert "mw:ge:300" in page.inner_text("[data-test=active-filters]")
    shot(page, "07-results-sorted-filtered")

    page.click("nav.tabs >> text=Item errors")
    page.wait_for_url(f"**/ui/jobs/{job_id}/errors")
    assert page.locator("table[data-test=errors-table] tbody tr").count() == 3
    assert all(msg.strip() for msg in page.locator("table[data-test=errors-table] td.wrap").all_text_contents())
    shot(page, "08-errors")

    page.click("nav.tabs >> text=Provenance")
    page.wait_for_url(f"**/ui/jobs/{job_id}/provenance")
    assert page.locator("table[data-test=provenance-table] tbody tr").count() >= 1
    shot(page, "09-provenance")

    page.goto("/ui/jobs")
    assert page.locator(f"tr[data-job='{job_id}'] [data-field=status]").text_content() == "succeeded"
    shot(page, "10-jobs")
    context.close()


def test_live_progress_and_cancel(browser: Any, dash: Stack, shot: Shot, tmp_path: Path) -> None:
    from bench.libraries import write_library

    library = write_library(tmp_path / "big.smi", CANCEL_LIBRARY_ROWS)
    page = signed_in(browser, dash, dash.token(f"web-cancel-{uuid.uuid4().hex[:8]}"))
    job_id = _submit_form(page, library, name="large library (to cancel)", parameters=_screening_parameters())
    url = page.url

    # The bar moves while the page stays put: the numbers come from polling the JSON API.
    page.wait_for_function(
        "() => Number(document.querySelector('[data-field=items_succeeded]').textContent.replace(/,/g, '')) > 0",
        timeout=JOB_TIMEOUT_MS,
    )
    first = float(page.locator(".card [data-field=bar]").get_attribute("value") or 0)
    page.wait_for_function(
        "(first) => Number(document.querySelector('.card [data-field=bar]').value) > first",
        arg=first,
        timeout=JOB_TIMEOUT_MS,
    )
    assert page.url == url
    assert str(page.text_content(".heading [data-field=status]")).strip() in ("ingesting", "running")
    shot(page, "11-job-live-progress")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[data-test=cancel]")
    page.wait_for_url(re.compile(r".*notice=cancelled.*"))
    assert page.get_attribute(".heading[data-rendered]", "data-rendered") == "cancelled"
    assert "was cancelled" in str(page.text_content("[role=status]"))
    assert page.locator("button[data-test=cancel]").count() == 0
    shot(page, "12-job-cancelled")
    stranger = _api(dash, dash.token(f"web-stranger-{uuid.uuid4().hex[:6]}"))
    assert stranger.get(f"/v1/jobs/{job_id}").status_code == 404  # another project cannot see it


def test_triage_worklist_with_thumbnails(browser: Any, dash: Stack, shot: Shot, tmp_path: Path) -> None:
    dicom_cases = pytest.importorskip("tests.triage.dicom_cases")
    upload = tmp_path / "studies.zip"
    upload.write_bytes(dicom_cases.archive(dicom_cases.cases()))
    page = signed_in(browser, dash, dash.token(f"web-triage-{uuid.uuid4().hex[:8]}"))
    job_id = _submit_form(page, upload, domain="triage", name="chest films")
    assert _wait_status(page, "succeeded|failed") == "succeeded"
    shot(page, "13-triage-job")

    page.click("nav.tabs >> text=Worklist")
    page.wait_for_url(f"**/ui/jobs/{job_id}/worklist")
    thumbs = _images_loaded(page, "img[data-test=thumbnail]")
    assert thumbs and all(not t["src"].endswith("placeholder.svg") for t in thumbs), thumbs
    badges = page.locator("section[data-test=study] h2 .badge").all_text_contents()
    rank = {"high": 3, "medium": 2, "low": 1, "not_scored": 0}
    assert [rank[b] for b in badges] == sorted((rank[b] for b in badges), reverse=True)
    assert page.locator("ul.reasons li").count() >= len(badges)
    shot(page, "14-triage-worklist")
    worklist_html = page.content()

    page.click("nav.tabs >> text=Results")
    page.wait_for_url(f"**/ui/jobs/{job_id}/results")
    _images_loaded(page, "td.pic-cell img", first=5)
    shot(page, "15-triage-results")
    # Nothing planted in the DICOM headers or the upload's names reaches a page.
    for html in (worklist_html, page.content()):
        assert not [n for n in dicom_cases.PHI_NEEDLES if n in html or n.upper() in html]


def test_names_are_text_and_projects_are_isolated(browser: Any, dash: Stack, shot: Shot) -> None:
    owner_token = dash.token(f"web-a-{uuid.uuid4().hex[:8]}")
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    body = {"domain": "screening", "items": ["CCO"], "name": hostile, "parameters": json.loads(_screening_parameters())}
    job_id = accepted(_api(dash, owner_token).post("/v1/jobs", json=body))
    wait_job(_api(dash, owner_token), job_id, timeout=120)

    page = signed_in(browser, dash, owner_token)
    page.goto(f"/ui/jobs/{job_id}")
    assert page.text_content("[data-test=job-name]") == hostile
    page.goto("/ui/jobs")
    assert hostile in str(page.text_content(f"tr[data-job='{job_id}'] a[data-test=job-link]"))
    time.sleep(0.5)
    assert page.evaluate("window.__pwned") is None
    shot(page, "16-escaped-name")

    other = signed_in(browser, dash, dash.token(f"web-b-{uuid.uuid4().hex[:8]}"))
    for path in ("", "/results", "/errors", "/provenance"):
        response = other.goto(f"/ui/jobs/{job_id}{path}")
        assert response is not None and response.status == 404, path
    shot(other, "17-other-project-404")
    assert other.request.get(f"/v1/jobs/{job_id}").status == 404  # the JSON API with the same cookie
    other.goto("/ui/jobs")
    assert other.locator(f"tr[data-job='{job_id}']").count() == 0


def test_worker_logs_are_json_lines_with_ids_and_no_phi(dash: Stack) -> None:
    """Runs after the jobs above (file order): the worker wrote JSON lines (MEDSIEVE_LOG_FORMAT=json) carrying
    task, shard and job ids, and none of the identifiers planted in the triage upload."""
    dicom_cases = pytest.importorskip("tests.triage.dicom_cases")
    text = (dash.log_dir / "worker.log").read_text(errors="replace")
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert records and all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    in_shards = [r for r in records if "shard_id" in r]
    assert in_shards and all("task_id" in r for r in in_shards)
    assert any("job_id" in r for r in in_shards)
    assert not [n for n in dicom_cases.PHI_NEEDLES if n in text or n.upper() in text]
