"""The literature pages' server side through the real app on the real PostgreSQL (no browser, no model): result
rows written as the worker would, then the document page (highlights, escaping, relations), the pair table with
its document links and exports, the results table and job page of a literature job, the screening hand-over
form (CSRF, refusals shown on the page, the new job), and project isolation on every new page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import insert

from tests.api.conftest import Api
from tests.api.rows import add_shards, set_job
from tests.web.test_pages import ORIGIN, csrf_of, login

pytestmark = pytest.mark.postgres

HOSTILE_TITLE = "<script>window.__pwned=1</script> Lithium carbonate toxicity"
ABSTRACT = "Lithium caused cardiac arrhythmia in a newborn."


def _entity(start: int, end: int, text: str, kind: str, concept: str | None, name: str | None) -> dict[str, Any]:
    return {"start": start, "end": end, "text": text, "type": kind, "score": 0.97, "concept_id": concept,
            "concept_name": name, "match": "exact" if concept else None}  # fmt: skip


def _document(job_id: uuid.UUID, shard_id: int, index: int, doc_id: str, title: str) -> dict[str, Any]:
    at = len(title) + 1
    lithium = title.index("Lithium")
    entities = [
        _entity(lithium, lithium + 17, "Lithium carbonate", "Chemical", "MESH:D016651", "Lithium Carbonate"),
        _entity(lithium, lithium + 7, "Lithium", "Chemical", "MESH:D008094", "Lithium"),  # nested: not marked
        _entity(lithium + 18, lithium + 26, "toxicity", "Disease", None, None),
        _entity(at, at + 7, "Lithium", "Chemical", "MESH:D008094", "Lithium"),
        _entity(at + 15, at + 33, "cardiac arrhythmia", "Disease", "MESH:D001145", "Arrhythmias, Cardiac"),
    ]
    relations = [
        {"chemical_id": "MESH:D008094", "disease_id": "MESH:D001145", "score": 0.83,
         "evidence": [at, at + len(ABSTRACT)], "chemical_text": "Lithium", "disease_text": "cardiac arrhythmia"},
    ]  # fmt: skip
    passages = [{"kind": "title", "offset": 0, "text": title}, {"kind": "abstract", "offset": at, "text": ABSTRACT}]
    return {
        "job_id": job_id, "shard_id": shard_id, "item_index": index, "item_key": doc_id, "doc_id": doc_id,
        "source": "jsonl", "title": title, "journal": "Test J", "year": 1990, "text_sha256": "0" * 64,
        "n_chars": at + len(ABSTRACT), "n_sentences": 2, "chunked": False, "chemical_count": 3, "disease_count": 2,
        "gene_count": 0, "relation_count": 1, "unmatched_count": 1, "score": 0.83,
        "passages": passages,
        "entities": entities, "relations": relations,
    }  # fmt: skip


def _literature_job(api: Api, *, finished: bool = True, smiles: str | None = "[Li+].[Li+].[O-]C([O-])=O") -> str:
    items = [{"id": "1001", "title": "t", "abstract": "a"}, {"id": "1002", "title": "t", "abstract": "a"}]
    r = api.client.post("/v1/jobs", json={"domain": "literature", "items": items}, headers=api.headers)
    assert r.status_code == 202, r.text
    job_id = uuid.UUID(r.json()["id"])
    (shard,) = add_shards(job_id, ["succeeded"])
    from db.models import LiteratureChemical, LiteraturePair, LiteratureResult
    from db.session import unit_of_work

    with unit_of_work() as session:
        # Item 1 failed (no row): the document links skip it, and 1003 is a doc id of no document of this job.
        session.execute(
            insert(LiteratureResult),
            [_document(job_id, shard, 0, "1001", HOSTILE_TITLE), _document(job_id, shard, 2, "1002", "Lithium x.")],
        )
        if finished:
            pair = {"job_id": job_id, "chemical_id": "MESH:D008094", "disease_id": "MESH:D001145",
                    "chemical_name": "Lithium", "disease_name": "Arrhythmias, Cardiac", "documents": 3,
                    "max_score": 0.83, "mean_score": 0.8, "doc_ids": ["1001", "1002", "1003"]}  # fmt: skip
            session.execute(insert(LiteraturePair), [pair])
            chemical = {"job_id": job_id, "concept_id": "MESH:D016651", "name": "Lithium Carbonate",
                        "smiles": smiles, "documents": 2, "mentions": 2}  # fmt: skip
            session.execute(insert(LiteratureChemical), [chemical])
    if finished:
        set_job(job_id, status="succeeded")
    return str(job_id)


def test_document_page_highlights_escapes_and_lists_relations(api: Api) -> None:
    job_id = _literature_job(api)
    login(api)
    r = api.client.get(f"/ui/jobs/{job_id}/documents/0")
    assert r.status_code == 200, r.text
    html = r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script>window" not in html and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    marks = re.findall(r'<mark class="ent ([^"]+)" title="([^"]*)">([^<]*)</mark>', html)
    in_text = [m for m in marks if m[2] != "dashed"]
    # Title: the longer "Lithium carbonate" (not the nested "Lithium"), "toxicity" without an id; abstract: two;
    # evidence sentence in the relations table: the same two again.
    assert [(cls, text) for cls, _, text in in_text] == [
        ("ent-chemical", "Lithium carbonate"),
        ("ent-disease no-id", "toxicity"),
        ("ent-chemical", "Lithium"),
        ("ent-disease", "cardiac arrhythmia"),
        ("ent-chemical", "Lithium"),
        ("ent-disease", "cardiac arrhythmia"),
    ]
    assert in_text[0][1] == "Chemical · MESH:D016651 · Lithium Carbonate · 0.970"
    assert in_text[1][1] == "Disease · no MeSH id · 0.970"
    # The passages are written without template whitespace between segments (they are shown pre-wrap).
    assert "Lithium carbonate</mark> <mark" in html and "newborn.</p>" in html
    assert "MESH:D001145" in html and "Arrhythmias, Cardiac" in html and "0.830" in html
    assert 'href="/ui/jobs/' + job_id + '/documents/2"' in html  # next document (item 1 has no result)

    r = api.client.get(f"/ui/jobs/{job_id}/documents/2")
    assert r.status_code == 200 and 'documents/0" data-test="prev-doc"' in r.text
    for missing in ("1", "99", "abc", "-1", "1e3", "٣"):
        assert api.client.get(f"/ui/jobs/{job_id}/documents/{missing}").status_code == 404, missing


def test_pairs_page_links_documents_and_exports(api: Api) -> None:
    job_id = _literature_job(api)
    login(api)
    r = api.client.get(f"/ui/jobs/{job_id}/pairs")
    assert r.status_code == 200, r.text
    html = r.text
    assert "Lithium" in html and "MESH:D008094" in html and "Arrhythmias, Cardiac" in html
    assert f'href="/ui/jobs/{job_id}/documents/0" data-test="pair-doc">1001</a>' in html
    assert f'href="/ui/jobs/{job_id}/documents/2" data-test="pair-doc">1002</a>' in html
    assert '<span class="mono">1003</span>' in html  # not a document of this job: no link
    for fmt in ("bioc-json", "pubtator", "entities-csv", "pairs-csv"):
        assert f"/v1/jobs/{job_id}/annotations?format={fmt}" in html
        assert api.client.get(f"/v1/jobs/{job_id}/annotations", params={"format": fmt}).status_code == 200
    assert f'href="/ui/jobs/{job_id}/pairs" class="here"' in html  # the tab
    assert "1 normalized chemical(s)" in html and 'data-test="screen" disabled' not in html
    r = api.client.get(f"/ui/jobs/{job_id}/pairs", params={"min_documents": 4})
    assert r.status_code == 200 and "supported by 4 or more documents" in r.text


def test_results_table_and_job_page_of_a_literature_job(api: Api) -> None:
    job_id = _literature_job(api)
    login(api)
    html = api.client.get(f"/ui/jobs/{job_id}/results").text
    headers = re.findall(r'data-sort="([a-z_]+)"|<th class="[a-z ]*">\s*([a-z_]+)\s*</th>', html)
    names = [a or b for a, b in headers]
    assert names[:6] == ["item_index", "doc_id", "title", "year", "journal", "chemical_count"], names
    assert not {"passages", "entities", "relations"} & set(names)
    assert 'data-col="entities"' not in html and "MESH:D016651" not in html  # no JSON dumped into cells
    assert f'href="/ui/jobs/{job_id}/documents/0" data-test="item-link"' in html
    assert "&lt;script&gt;" in html and "<script>window" not in html

    html = api.client.get(f"/ui/jobs/{job_id}").text
    assert f'href="/ui/jobs/{job_id}/pairs"' in html
    assert f'<a class="hit" href="/ui/jobs/{job_id}/documents/0" data-test="hit">' in html
    assert 'class="hit-subtitle"' in html


def test_screen_these_chemicals(api: Api) -> None:
    job_id = _literature_job(api)
    login(api)
    pairs = api.client.get(f"/ui/jobs/{job_id}/pairs").text
    csrf = csrf_of(pairs)
    action = f"/ui/jobs/{job_id}/screening-job"
    assert api.client.post(action, data={"min_documents": "1"}, headers=ORIGIN).status_code == 403
    evil = {"Origin": "https://evil.example"}
    assert api.client.post(action, data={"csrf_token": csrf}, headers=evil).status_code == 403

    r = api.client.post(action, data={"csrf_token": csrf, "min_documents": "5"}, headers=ORIGIN)
    assert r.status_code == 422 and "nothing to screen" in r.text and 'data-test="screen-error"' in r.text
    r = api.client.post(action, data={"csrf_token": csrf, "parameters": "{nope"}, headers=ORIGIN)
    assert r.status_code == 422 and "parameters must be a JSON object" in r.text and "{nope" in r.text
    r = api.client.post(action, data={"csrf_token": csrf, "min_documents": "zero"}, headers=ORIGIN)
    assert r.status_code == 422 and "whole number" in r.text

    nonce = re.search(r'name="nonce" value="([^"]+)"', pairs)
    assert nonce is not None
    form = {"csrf_token": csrf, "nonce": nonce.group(1), "min_documents": "1", "name": "from the pairs page"}
    r = api.client.post(action, data=form, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and re.fullmatch(r"/ui/jobs/[0-9a-f-]{36}", r.headers["location"]), r.text
    new_id = r.headers["location"].rsplit("/", 1)[1]
    job = api.client.get(f"/v1/jobs/{new_id}", headers=api.headers).json()
    assert (job["domain"], job["name"], job["input_filename"]) == ("screening", "from the pairs page", "chemicals.csv")
    again = api.client.post(action, data=form, headers=ORIGIN, follow_redirects=False)  # a double click
    assert again.status_code == 303 and again.headers["location"] == r.headers["location"]


def test_screening_refused_before_the_job_has_succeeded(api: Api) -> None:
    job_id = _literature_job(api, finished=False)
    login(api)
    html = api.client.get(f"/ui/jobs/{job_id}/pairs").text
    assert "when the job has succeeded" in html and 'data-test="screen" disabled' in html
    assert "format=pairs-csv" not in html
    r = api.client.post(f"/ui/jobs/{job_id}/screening-job", data={"csrf_token": csrf_of(html)}, headers=ORIGIN)
    assert r.status_code == 409 and "job-level tables exist once it has succeeded" in r.text


def test_literature_pages_of_another_project_are_not_found(api: Api) -> None:
    job_id = _literature_job(api)
    screening_id = api.submit_inline().json()["id"]
    login(api)
    assert api.client.get(f"/ui/jobs/{screening_id}/pairs").status_code == 422  # not a literature job
    assert api.client.get(f"/ui/jobs/{screening_id}/documents/0").status_code == 422

    login(api, api.new_token(f"other-{uuid.uuid4().hex[:8]}"))
    csrf = csrf_of(api.client.get("/ui/jobs").text)
    for path in ("/documents/0", "/documents/2", "/pairs", "/pairs?offset=50"):
        r = api.client.get(f"/ui/jobs/{job_id}{path}")
        assert r.status_code == 404 and "Lithium" not in r.text and "1001" not in r.text, path
    r = api.client.post(f"/ui/jobs/{job_id}/screening-job", data={"csrf_token": csrf}, headers=ORIGIN)
    assert r.status_code == 404
    assert api.client.get(f"/v1/jobs/{job_id}/annotations").status_code == 404
    assert api.client.get("/ui/jobs/not-a-uuid/pairs").status_code == 404
