"""A literature job end to end on the real stack (API + a worker process, PostgreSQL, RabbitMQ): a PubMed XML
upload built from real BC5CDR abstracts, with a truncated record and an empty abstract among them, goes through
NER, MeSH normalization and CID relations; the pair table, the exports and the hand-over of the job's
chemicals to a screening job work over HTTP. A PMID job fetches from a recorded-response E-utilities server."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

import pytest

from tests.conftest import SHARED_DATA
from tests.e2e.harness import Stack, accepted, running_stack, submit_file, wait_job, walk
from workers.literature.ner import SHIPPED_MODEL, model_info
from workers.literature.normalize import DEFAULT_PATH as LEXICON
from workers.literature.relations import DEFAULT_PATH as CID

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

BC5CDR_DEV = SHARED_DATA / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
if not BC5CDR_DEV.exists():
    pytest.skip(f"BC5CDR development set not found at {BC5CDR_DEV}", allow_module_level=True)
if not (SHIPPED_MODEL / "model.safetensors").exists():
    pytest.skip("the shipped NER model is missing", allow_module_level=True)


def _record(pmid: str, title: str, abstract: str) -> str:
    abstract_xml = f"<Abstract><AbstractText>{escape(abstract)}</AbstractText></Abstract>" if abstract else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
        f"<Article><Journal><Title>Test Journal</Title><JournalIssue><PubDate><Year>1990</Year></PubDate>"
        f"</JournalIssue></Journal><ArticleTitle>{escape(title)}</ArticleTitle>{abstract_xml}</Article>"
        f"</MedlineCitation></PubmedArticle>\n"
    )


def _article_set(records: list[str]) -> bytes:
    head = (
        '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2019//EN" '
        '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd">\n<PubmedArticleSet>\n'
    )
    return (head + "".join(records) + "</PubmedArticleSet>\n").encode()


@pytest.fixture(scope="module")
def gold() -> list[Any]:
    from workers.literature.pubtator import read_pubtator

    return read_pubtator(BC5CDR_DEV)[:12]


class _Eutils(BaseHTTPRequestHandler):
    """Recorded efetch responses: the PMIDs it knows, the others are simply absent (as NCBI does)."""

    records: dict[str, str] = {}

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        ids = ",".join(query.get("id", [""])).split(",")
        body = _article_set([self.records[i] for i in ids if i in self.records])
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def eutils(gold: list[Any]) -> Iterator[str]:
    _Eutils.records = {g.document.doc_id: _record(g.document.doc_id, *_title_abstract(g)) for g in gold[:3]}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Eutils)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/entrez/eutils/"
    server.shutdown()


@pytest.fixture(scope="module")
def literature_stack(
    pg_url: str, amqp_url: str, eutils: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(
        pg_url, amqp_url, tmp_path_factory.mktemp("literature-stack"), workers=0, entrez_base_url=eutils
    ) as s:
        s.start_worker("literature-worker", concurrency=1, queues="literature.cpu,screening.cpu")
        yield s


def _title_abstract(g: Any) -> tuple[str, str]:
    passages = {p.kind: p.text for p in g.document.passages}
    return passages["title"], passages.get("abstract", "")


def test_pubmed_upload_entities_pairs_exports_and_screening(
    literature_stack: Stack, gold: list[Any], tmp_path: Path
) -> None:
    client = literature_stack.client(f"lit-{uuid.uuid4().hex[:8]}")
    records = [_record(g.document.doc_id, *_title_abstract(g)) for g in gold[:10]]
    truncated = _record("111", "A broken record", "Cut off here")[:-60]
    records.insert(4, truncated + "\n")
    records.insert(7, _record("222", "A title without an abstract", ""))
    job_id = accepted(submit_file(client, _article_set(records), "batch.xml", domain="literature"))
    job = wait_job(client, job_id, 400, logs=literature_stack.logs)
    assert job["status"] == "succeeded", job
    assert job["counts"]["items_succeeded"] == 10 and job["counts"]["items_failed"] == 2, job["counts"]
    codes = {e["item_index"]: e["code"] for e in walk(client, f"/v1/jobs/{job_id}/errors")}
    assert codes == {4: "CORRUPT_XML", 7: "EMPTY_TEXT"}

    rows = {r["doc_id"]: r for r in walk(client, f"/v1/jobs/{job_id}/results", {"limit": 100})}
    assert set(rows) == {g.document.doc_id for g in gold[:10]}
    found = gold_total = 0
    for g in gold[:10]:
        row = rows[g.document.doc_id]
        text = g.document.text
        for e in row["entities"]:
            assert text[e["start"] : e["end"]] == e["text"]  # offsets point into the original text
        predicted = {(e["start"], e["end"], e["type"]) for e in row["entities"]}
        wanted = {(m.start, m.end, m.type) for m in g.mentions}
        found += len(predicted & wanted)
        gold_total += len(wanted)
    assert found / gold_total > 0.6, (found, gold_total)  # the shipped model on real abstracts

    normalized = [e for r in rows.values() for e in r["entities"] if e["type"] != "Gene" and e.get("concept_id")]
    assert normalized and all(e["concept_id"].startswith("MESH:") for e in normalized)

    pairs = client.get(f"/v1/jobs/{job_id}/pairs", params={"limit": 500}).json()
    gold_pairs = {(c, d) for g in gold[:10] for c, d in g.pairs}
    predicted_pairs = {(p["chemical_id"], p["disease_id"]) for p in pairs["items"]}
    assert pairs["total"] == len(pairs["items"]) > 0
    assert predicted_pairs & gold_pairs, (sorted(predicted_pairs)[:10], sorted(gold_pairs)[:10])
    for p in pairs["items"]:
        assert set(p["doc_ids"]) <= set(rows) and p["documents"] == len(p["doc_ids"])

    # Provenance names every component by the sha256 of the exact file the worker loaded.
    prov = list(walk(client, f"/v1/jobs/{job_id}/provenance", {"limit": 100}))
    assert prov and all(len(p["input_sha256"]) == 64 and p["code_version"] and p["host"] for p in prov)
    components = {c["name"]: c["sha256"] for p in prov for c in p["components"]}
    assert components == {
        "ner-minilm": model_info(SHIPPED_MODEL).sha256,
        "mesh-lexicon": hashlib.sha256(LEXICON.read_bytes()).hexdigest(),
        "cid-relations": hashlib.sha256(CID.read_bytes()).hexdigest(),
    }
    assert {p["package_versions"].get("transformers") for p in prov} == {metadata.version("transformers")}

    bioc = client.get(f"/v1/jobs/{job_id}/annotations", params={"format": "bioc-json"})
    assert bioc.status_code == 200
    collection = json.loads(bioc.content)
    assert len(collection["documents"]) == 10
    pubtator = client.get(f"/v1/jobs/{job_id}/annotations", params={"format": "pubtator"}).text
    assert pubtator.count("|t|") == 10
    entities = list(csv.DictReader(io.StringIO(client.get(f"/v1/jobs/{job_id}/annotations?format=entities-csv").text)))
    assert len(entities) == sum(len(r["entities"]) for r in rows.values())
    assert client.get(f"/v1/jobs/{job_id}/annotations", params={"format": "xml"}).status_code == 422

    chemicals = client.get(f"/v1/jobs/{job_id}/chemicals", params={"with_structure": True}).json()["items"]
    assert chemicals and all(c["smiles"] for c in chemicals)
    r = client.post(f"/v1/jobs/{job_id}/screening-job", json={"parameters": {"admet": False}})
    screening_id = accepted(r)
    screening = wait_job(client, screening_id, 300, logs=literature_stack.logs)
    assert screening["status"] == "succeeded" and screening["domain"] == "screening"
    assert screening["counts"]["items_total"] == len(chemicals)
    ids = {row["item_key"] for row in walk(client, f"/v1/jobs/{screening_id}/results", {"limit": 500})}
    assert ids <= {c["concept_id"] for c in chemicals} and ids
    # A screening job has no pair table: a clear 422, not an empty page.
    assert client.get(f"/v1/jobs/{screening_id}/pairs").status_code == 422


def test_pmid_job_fetches_from_eutils_and_reports_unknown_pmids(literature_stack: Stack, gold: list[Any]) -> None:
    client = literature_stack.client(f"lit-{uuid.uuid4().hex[:8]}")
    pmids = [g.document.doc_id for g in gold[:3]] + ["99999999", "not-a-pmid"]
    job_id = accepted(submit_file(client, "\n".join(pmids).encode(), "pmids.txt", domain="literature"))
    job = wait_job(client, job_id, 300, logs=literature_stack.logs)
    assert job["status"] == "succeeded", job
    codes = {e["item_index"]: e["code"] for e in walk(client, f"/v1/jobs/{job_id}/errors")}
    assert codes == {3: "NOT_FOUND", 4: "PARSE_ERROR"}
    rows = {r["doc_id"]: r for r in walk(client, f"/v1/jobs/{job_id}/results")}
    assert set(rows) == set(pmids[:3])
    for g in gold[:3]:
        assert rows[g.document.doc_id]["n_chars"] == len(g.document.text)
        assert rows[g.document.doc_id]["source"] == "entrez"


def test_unsafe_xml_is_refused_before_anything_is_fetched(literature_stack: Stack) -> None:
    client = literature_stack.client(f"lit-{uuid.uuid4().hex[:8]}")
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>&b;</ArticleTitle>"
        b"</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    r = submit_file(client, bomb, "bomb.xml", domain="literature")
    assert r.status_code == 422, r.text
    assert "entit" in r.json()["error"]["message"].lower() or "dtd" in r.json()["error"]["message"].lower()
