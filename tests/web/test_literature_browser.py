"""The literature pages in a real browser (headless Chromium) against the real stack with the shipped NER model:
a JSON-lines upload of three short abstracts (one with a <script> planted in its title) goes through the worker;
then the job page, the results table, a document with its entities highlighted, the pair table with its document
links and exports, and the "Screen these chemicals" hand-over, each screenshotted. Another project gets 404s."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Stack, accepted, submit_file, wait_job
from tests.web.conftest import signed_in
from tests.web.test_dashboard import _api, _screening_parameters, _wait_status
from workers.literature.ner import SHIPPED_MODEL

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

if not (SHIPPED_MODEL / "model.safetensors").exists():
    pytest.skip("the shipped NER model is missing (workers/literature/models/ner-minilm)", allow_module_level=True)

Shot = Callable[[Any, str], Path]
PLANTED = "<script>window.__pwned=1</script>"
ABSTRACTS = [
    {
        "id": "90001",
        "title": f"Cocaine-induced seizures and hyperthermia in rats {PLANTED}",
        "abstract": "Cocaine administration produced generalized seizures and hyperthermia in rats. Cocaine also "
        "increased c-fos expression in the hippocampus. Pretreatment with diazepam prevented the convulsions "
        "induced by cocaine.",
    },
    {
        "id": "90002",
        "title": "Lithium carbonate toxicity in a newborn.",
        "abstract": "A newborn infant whose mother received lithium carbonate during pregnancy developed cardiac "
        "arrhythmia and hypotonia. Lithium-induced nephrogenic diabetes insipidus was also observed.",
    },
    {
        "id": "90003",
        "title": "Haloperidol-associated neuroleptic malignant syndrome.",
        "abstract": "A 45-year-old man treated with haloperidol developed neuroleptic malignant syndrome with muscle "
        "rigidity and fever. The syndrome resolved after withdrawal of haloperidol and treatment with dantrolene.",
    },
]
JOB_TIMEOUT_S = 480


def test_literature_document_pairs_and_screening(browser: Any, dash: Stack, shot: Shot) -> None:
    token = dash.token(f"web-lit-{uuid.uuid4().hex[:8]}")
    client = _api(dash, token)
    body = "".join(json.dumps(a) + "\n" for a in ABSTRACTS).encode()
    job_id = accepted(submit_file(client, body, "abstracts.jsonl", domain="literature"))
    job = wait_job(client, job_id, JOB_TIMEOUT_S, logs=dash.logs)
    assert job["status"] == "succeeded" and job["items_succeeded"] == 3, job

    page = signed_in(browser, dash, token)
    page.on("dialog", lambda dialog: dialog.dismiss())  # an alert() from planted markup would hang nothing
    page.goto(f"/ui/jobs/{job_id}")
    assert page.locator("nav.tabs >> text=Pairs").count() == 1
    assert page.locator("a.hit").count() == 3
    shot(page, "20-literature-job")

    page.click("nav.tabs >> text=Results")
    page.wait_for_url(f"**/ui/jobs/{job_id}/results")
    headers = [h.strip() for h in page.locator("table[data-test=results-table] thead th").all_text_contents()]
    assert headers[:3] == ["item_index", "doc_id", "title"] and "entities" not in headers, headers
    shot(page, "21-literature-results")

    # The hostile title is a link's text in the table; the document page is where its entities are marked.
    page.click(f"td[data-col=doc_id] >> text={ABSTRACTS[0]['id']}")
    page.wait_for_url(re.compile(rf".*/ui/jobs/{job_id}/documents/\d+$"))
    title = page.locator("article.doc [data-kind=title]")
    assert PLANTED in str(title.text_content())  # shown as text...
    assert page.locator("article.doc script").count() == 0  # ...never as an element
    marks = page.locator("article.doc mark.ent")
    assert marks.count() > 0
    tooltips = [str(marks.nth(i).get_attribute("title")) for i in range(marks.count())]
    assert all(re.match(r"^(Chemical|Disease|Gene) · ", t) for t in tooltips), tooltips
    assert any(t.startswith("Chemical · MESH:") for t in tooltips), tooltips
    marked_text = [m.strip().lower() for m in marks.all_text_contents()]
    assert "cocaine" in marked_text, marked_text
    # Marks sit on the document's own characters: the passage reads exactly as submitted.
    abstract = page.locator("article.doc [data-kind=abstract]").text_content()
    assert abstract == ABSTRACTS[0]["abstract"]
    assert page.locator("ul.legend mark.ent-chemical").count() >= 1
    time.sleep(0.5)
    assert page.evaluate("window.__pwned") is None
    shot(page, "22-literature-document")

    page.click("nav.tabs >> text=Pairs")
    page.wait_for_url(f"**/ui/jobs/{job_id}/pairs")
    rows = page.locator("table[data-test=pairs-table] tbody tr")
    assert rows.count() >= 1, page.inner_text("main")
    for fmt in ("bioc-json", "pubtator", "entities-csv", "pairs-csv"):
        href = str(page.get_attribute(f"a[data-test=export-{fmt}]", "href"))
        assert page.request.get(href).status == 200, fmt  # the session cookie opens the JSON API's exports
    shot(page, "23-literature-pairs")
    page.locator("a[data-test=pair-doc]").last.click()  # another document than the one above
    page.wait_for_url(re.compile(rf".*/ui/jobs/{job_id}/documents/\d+$"))
    assert page.locator("table[data-test=relations] tbody tr").count() >= 1
    assert page.locator("td.evidence mark.ent").count() >= 1
    shot(page, "24-literature-document-relations")

    page.goto(f"/ui/jobs/{job_id}/pairs")
    if page.locator("button[data-test=screen]").is_disabled():
        pytest.fail("no chemical of the job has a structure: " + page.inner_text("[data-test=screening]"))
    page.click("[data-test=screen-form] summary")
    page.fill("#screen-parameters", _screening_parameters())
    page.fill("[data-test=screen-form] input[name=name]", "chemicals from the literature")
    page.click("button[data-test=screen]")
    page.wait_for_url(re.compile(r".*/ui/jobs/[0-9a-f-]{36}$"))
    screening_id = str(page.url).rsplit("/", 1)[1]
    assert screening_id != job_id
    assert page.text_content("[data-test=job-name]") == "chemicals from the literature"
    assert _wait_status(page, "succeeded|failed") == "succeeded"
    assert int(str(page.text_content("[data-field=items_succeeded]"))) >= 1
    shot(page, "25-literature-screening-job")

    other = signed_in(browser, dash, dash.token(f"web-lit-other-{uuid.uuid4().hex[:8]}"))
    for path in ("/documents/0", "/pairs"):
        response = other.goto(f"/ui/jobs/{job_id}{path}")
        assert response is not None and response.status == 404, path
    shot(other, "26-literature-other-project-404")
    page.context.close()
    other.context.close()
