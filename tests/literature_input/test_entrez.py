"""Entrez efetch against a local recorded-response server: the real NEJM record plus written ones, NCBI's
response shapes (PubmedArticleSet with the found PMIDs only), throttling, retries and the rate limit."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.enums import ItemErrorCode
from core.settings import reset_settings_cache
from workers.literature.entrez import fetch_documents

from .xmlbuild import PUBMED_PROLOG, article

WRITTEN = {
    "31000001": article(
        "31000001",
        "Lithium-induced nephrogenic diabetes insipidus.",
        [("BACKGROUND", "Lithium impairs renal concentrating ability."), ("RESULTS", "Amiloride reduced polyuria.")],
    ),
    "31000003": article("31000003", "Cisplatin nephrotoxicity in rats.", [(None, "Serum creatinine rose 3-fold.")]),
    "31000004": article("31000004", "Erratum: haloperidol dosing."),  # title only
    "31000009": article("31000009", "Broken.", [(None, "x")]).replace("</ArticleTitle>", "</Title>"),
}


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None  # None: a PubmedArticleSet of the requested PMIDs the server knows
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Request:
    at: float  # time.monotonic() when the server began handling it
    method: str
    path: str
    params: dict[str, str]


class EfetchServer:
    """Serves efetch.fcgi from `records`; `script` decides each reply from the request number (0-based)."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = records
        self.requests: list[Request] = []
        self.script: Callable[[int], Reply] = lambda n: Reply()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self, parse_qs(urlsplit(self.path).query))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                server._handle(self, parse_qs(self.rfile.read(length).decode()))

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/entrez/eutils/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        at = time.monotonic()
        params = {k: v[0] for k, v in query.items()}
        with self._lock:
            n = len(self.requests)
            self.requests.append(Request(at, handler.command, urlsplit(handler.path).path, params))
        reply = self.script(n)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        body = reply.body
        if body is None:
            found = [self.records[p] for p in params.get("id", "").split(",") if p in self.records]
            body = (PUBMED_PROLOG + "<PubmedArticleSet>\n" + "".join(found) + "</PubmedArticleSet>\n").encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "text/xml; charset=UTF-8")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EfetchServer]:
    srv = EfetchServer(dict(WRITTEN))
    monkeypatch.setenv("MEDSIEVE_ENTREZ_BASE_URL", srv.url)
    monkeypatch.setenv("MEDSIEVE_ENTREZ_EMAIL", "curator@example.org")
    monkeypatch.setenv("MEDSIEVE_ENTREZ_API_KEY", "")
    monkeypatch.setenv("MEDSIEVE_ENTREZ_MAX_TRIES", "3")
    monkeypatch.setenv("MEDSIEVE_ENTREZ_TIMEOUT_S", "5")
    reset_settings_cache()
    yield srv
    srv.close()
    monkeypatch.undo()
    reset_settings_cache()


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"MEDSIEVE_ENTREZ_{key.upper()}", value)
    reset_settings_cache()


def _codes(errors: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {pmid: code for pmid, (code, _) in errors.items()}


def test_success_with_the_real_record(server: EfetchServer, real_article: bytes) -> None:
    server.records["29768149"] = real_article.decode()
    docs, errors = fetch_documents(["29768149", "31000001", "31000003"])
    assert errors == {}
    assert sorted(docs) == ["29768149", "31000001", "31000003"]
    nejm = docs["29768149"]
    assert nejm.source == "entrez" and nejm.meta["year"] == 2018
    assert nejm.passages[0].text == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert nejm.passages[1].text.startswith("BACKGROUND: In patients with mild asthma")
    assert docs["31000001"].passages[1].text == (
        "BACKGROUND: Lithium impairs renal concentrating ability. RESULTS: Amiloride reduced polyuria."
    )
    [req] = server.requests
    assert req.method == "GET" and req.path == "/entrez/eutils/efetch.fcgi"
    assert req.params == {
        "db": "pubmed",
        "id": "29768149,31000001,31000003",
        "retmode": "xml",
        "tool": "medsieve",
        "email": "curator@example.org",
    }


def test_missing_empty_and_corrupt(server: EfetchServer) -> None:
    docs, errors = fetch_documents(["31000001", "99999999", "31000004", "31000009", "31000001", "abc"])
    assert sorted(docs) == ["31000001"]
    assert _codes(errors) == {
        "99999999": ItemErrorCode.NOT_FOUND.value,
        "31000004": ItemErrorCode.EMPTY_TEXT.value,
        "31000009": ItemErrorCode.CORRUPT_XML.value,
        "abc": ItemErrorCode.PARSE_ERROR.value,
    }
    assert server.requests[0].params["id"] == "31000001,99999999,31000004,31000009"  # deduplicated, in order
    docs, errors = fetch_documents(["31000004"], require_abstract=False)
    assert errors == {} and docs["31000004"].passages[0].text == "Erratum: haloperidol dosing."


def test_ncbi_error_document_and_unsafe_response(server: EfetchServer) -> None:
    server.script = lambda n: Reply(
        body=b'<?xml version="1.0"?><eFetchResult><ERROR>Empty result - nothing to do</ERROR></eFetchResult>'
    )
    _, errors = fetch_documents(["99999998", "99999999"])
    assert _codes(errors) == dict.fromkeys(["99999998", "99999999"], ItemErrorCode.NOT_FOUND.value)
    server.script = lambda n: Reply(body=b'<!DOCTYPE PubmedArticleSet [<!ENTITY a "b">]><PubmedArticleSet/>')
    _, errors = fetch_documents(["31000001"])
    assert _codes(errors) == {"31000001": ItemErrorCode.UNSAFE_XML.value}


def test_429_is_retried_after_retry_after(server: EfetchServer) -> None:
    server.script = lambda n: Reply(429, b"Too Many Requests", {"Retry-After": "1"}) if n == 0 else Reply()
    docs, errors = fetch_documents(["31000003"], backoff_base_s=0.01)
    assert errors == {} and list(docs) == ["31000003"]
    first, second = server.requests
    assert second.at - first.at >= 0.95  # the backoff alone would have been ~0.02 s


def test_500_forever_gives_upstream_error(server: EfetchServer) -> None:
    server.script = lambda n: Reply(500, b"Internal Server Error")
    started = time.monotonic()
    docs, errors = fetch_documents(["31000001", "31000003"], backoff_base_s=0.01)
    assert docs == {}
    assert _codes(errors) == dict.fromkeys(["31000001", "31000003"], ItemErrorCode.UPSTREAM_ERROR.value)
    assert "3 time(s)" in errors["31000001"][1] and "HTTP 500" in errors["31000001"][1]
    assert len(server.requests) == 3  # entrez_max_tries
    assert time.monotonic() - started < 5


def test_4xx_is_not_retried(server: EfetchServer) -> None:
    server.script = lambda n: Reply(400, b"Bad Request")
    _, errors = fetch_documents(["31000001"], backoff_base_s=0.01)
    assert _codes(errors) == {"31000001": ItemErrorCode.UPSTREAM_ERROR.value}
    assert len(server.requests) == 1


def test_timeouts_and_refused_connections_are_retried(server: EfetchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, timeout_s="0.3", max_tries="2")
    server.script = lambda n: Reply(delay_s=1.0) if n == 0 else Reply()
    _docs, errors = fetch_documents(["31000001"], backoff_base_s=0.01)
    assert errors == {} and len(server.requests) == 2
    closed = EfetchServer({})
    closed.close()  # nothing listens on its port any more
    _env(monkeypatch, base_url=closed.url)
    _, errors = fetch_documents(["31000001"], backoff_base_s=0.01)
    assert errors["31000001"][0] == ItemErrorCode.UPSTREAM_ERROR.value and "ConnectError" in errors["31000001"][1]


def test_batches_and_post(server: EfetchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, batch_size="250")
    pmids = [str(40_000_000 + i) for i in range(260)] + ["31000001"]
    docs, errors = fetch_documents(pmids)
    assert list(docs) == ["31000001"] and len(errors) == 260
    assert [(r.method, len(r.params["id"].split(","))) for r in server.requests] == [("POST", 250), ("GET", 11)]


def _gaps(server: EfetchServer) -> list[float]:
    times = sorted(r.at for r in server.requests)
    return [b - a for a, b in itertools.pairwise(times)]


def test_rate_limit_without_key(server: EfetchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, batch_size="1")
    fetch_documents(["31000001", "31000003", "31000004", "99999999"])
    # Two threads at once: the limit is per process, not per call.
    threads = [threading.Thread(target=fetch_documents, args=([p, "99999998"],)) for p in ("31000001", "31000003")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.requests) == 8
    assert min(_gaps(server)) >= 1 / 3 - 0.01  # 3 requests/s (a few ms of arrival jitter allowed)


def test_rate_limit_with_key(server: EfetchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, batch_size="1", api_key="0123456789abcdef")
    started = time.monotonic()
    fetch_documents([str(31000001 + i) for i in range(6)])
    assert all(r.params["api_key"] == "0123456789abcdef" for r in server.requests)
    gaps = _gaps(server)
    assert min(gaps) >= 0.1 - 0.01  # 10 requests/s
    assert time.monotonic() - started < 5 * (1 / 3)  # and faster than the keyless limit
