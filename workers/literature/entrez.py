"""PubMed records by PMID from NCBI E-utilities efetch, parsed by the hardened PubMed XML reader.

Why not Bio.Entrez.efetch: Biopython 1.88 hard-codes "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi"
in efetch() (no base-URL setting, so no mirror and no recorded-response server in tests), calls urlopen()
without a timeout, retries inside _open() with a fixed sleep that ignores Retry-After, and rate-limits through
an unlocked module global. So the request is built here with the parameters Bio.Entrez sends (db, id, retmode,
tool, email, api_key; POST from 200 IDs on, as Bio.Entrez and NCBI advise) and sent with httpx. The response is
never given to Bio.Entrez.read/parse (which would resolve the DTD); it goes through parsers.pubmed_xml.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from core.enums import ItemErrorCode
from core.settings import get_settings
from workers.literature.documents import Document
from workers.literature.parsers import pubmed_xml
from workers.literature.safexml import MAX_PROLOG_BYTES, XmlRejected, check_prolog

# NCBI allows 3 requests/s without an API key and 10 with one; a small margin keeps us under the limit when
# arrival times jitter (Biopython uses 0.37 s for the same reason).
INTERVAL_S = 0.35
INTERVAL_WITH_KEY_S = 0.105
RETRY_AFTER_MAX_S = 120.0  # an upstream that asks for a longer pause is treated as down, not waited for
_POST_FROM_IDS = 200

_limit_lock = threading.Lock()
_next_slot = 0.0

Errors = dict[str, tuple[str, str]]


def wait_turn(interval: float) -> None:
    """Process-wide rate limit: each request reserves the next free slot under a lock, then sleeps outside it,
    so concurrent threads are spaced `interval` apart without serialising their requests."""
    global _next_slot
    with _limit_lock:
        now = time.monotonic()
        slot = max(now, _next_slot)
        _next_slot = slot + interval
    if slot > now:
        time.sleep(slot - now)


class _BatchFailed(Exception):
    def __init__(self, code: ItemErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = (code.value, message)


@dataclass(frozen=True)
class EntrezClient:
    base_url: str
    email: str
    api_key: str
    tool: str
    max_tries: int
    batch_size: int
    timeout_s: float
    backoff_base_s: float = 1.0  # attempt n waits base * 2**(n-1) plus up to `base` of jitter
    backoff_max_s: float = 30.0

    @classmethod
    def from_settings(cls, *, backoff_base_s: float = 1.0, backoff_max_s: float = 30.0) -> EntrezClient:
        s = get_settings()
        return cls(
            base_url=s.entrez_base_url,
            email=s.entrez_email,
            api_key=s.entrez_api_key.get_secret_value(),
            tool=s.entrez_tool,
            max_tries=s.entrez_max_tries,
            batch_size=s.entrez_batch_size,
            timeout_s=s.entrez_timeout_s,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
        )

    def fetch(self, pmids: Sequence[str], *, require_abstract: bool = True) -> tuple[dict[str, Document], Errors]:
        docs: dict[str, Document] = {}
        errors: Errors = {}
        wanted: list[str] = []
        for pmid in dict.fromkeys(p.strip() for p in pmids):  # one request per PMID, in input order
            if pmid.isdigit():
                wanted.append(pmid)
            else:
                errors[pmid] = (ItemErrorCode.PARSE_ERROR.value, f"{pmid[:40]!r} is not a PMID")
        with httpx.Client(timeout=self.timeout_s, headers={"User-Agent": f"{self.tool} (medsieve)"}) as http:
            for at in range(0, len(wanted), self.batch_size):
                batch = wanted[at : at + self.batch_size]
                try:
                    body = self._request(http, batch)
                    found, failed = _parse(body, batch, require_abstract)
                except _BatchFailed as exc:
                    found, failed = {}, dict.fromkeys(batch, exc.error)
                docs.update(found)
                errors.update(failed)
        return docs, errors

    def _request(self, http: httpx.Client, batch: list[str]) -> bytes:
        params = {"db": "pubmed", "id": ",".join(batch), "retmode": "xml", "tool": self.tool}
        if self.email:
            params["email"] = self.email
        if self.api_key:
            params["api_key"] = self.api_key
        url = self.base_url.rstrip("/") + "/efetch.fcgi"
        interval = INTERVAL_WITH_KEY_S if self.api_key else INTERVAL_S
        for attempt in range(1, self.max_tries + 1):
            wait_turn(interval)
            retry_after: float | None = None
            try:
                post = len(batch) >= _POST_FROM_IDS
                response = http.post(url, data=params) if post else http.get(url, params=params)
            except httpx.TransportError as exc:  # connect/read errors and timeouts
                reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            else:
                if response.status_code == 200:
                    return response.content
                reason = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    raise _BatchFailed(ItemErrorCode.UPSTREAM_ERROR, f"NCBI efetch answered {reason}")
                retry_after = _retry_after(response.headers.get("Retry-After"))
                if retry_after is not None and retry_after > RETRY_AFTER_MAX_S:
                    message = f"NCBI efetch answered {reason} and asked to wait {retry_after:.0f} s"
                    raise _BatchFailed(ItemErrorCode.UPSTREAM_ERROR, message)
            if attempt == self.max_tries:
                break
            delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
            delay += random.uniform(0, self.backoff_base_s)
            time.sleep(max(delay, retry_after or 0.0))
        message = f"NCBI efetch failed {self.max_tries} time(s); last: {reason}"
        raise _BatchFailed(ItemErrorCode.UPSTREAM_ERROR, message)


def fetch_documents(
    pmids: Sequence[str], *, require_abstract: bool = True, backoff_base_s: float | None = None
) -> tuple[dict[str, Document], Errors]:
    """Documents by PMID, and an (ItemErrorCode, message) for every PMID that has none."""
    client = (
        EntrezClient.from_settings()
        if backoff_base_s is None
        else EntrezClient.from_settings(backoff_base_s=backoff_base_s)
    )
    return client.fetch(pmids, require_abstract=require_abstract)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _parse(body: bytes, batch: list[str], require_abstract: bool) -> tuple[dict[str, Document], Errors]:
    try:
        root = check_prolog(body[:MAX_PROLOG_BYTES]).root
    except XmlRejected as exc:
        raise _BatchFailed(ItemErrorCode(exc.code), f"efetch response: {exc.reason}") from None
    if root == "eFetchResult":  # NCBI's answer when none of the IDs exists
        raise _BatchFailed(ItemErrorCode.NOT_FOUND, "PubMed has no record with this PMID")
    if root not in pubmed_xml.ROOTS:
        raise _BatchFailed(ItemErrorCode.UPSTREAM_ERROR, f"efetch returned <{root[:80]}>, not a PubmedArticleSet")
    wanted = set(batch)
    docs: dict[str, Document] = {}
    errors: Errors = {}
    unattributed: tuple[str, str] | None = None
    for key, doc, error in pubmed_xml.records(
        [body], require_abstract=require_abstract, max_record_bytes=len(body) + 1, source="entrez"
    ):
        if key is None:
            unattributed = unattributed or error
        elif key not in wanted:
            continue  # a record NCBI added on its own: not asked for, not reported
        elif doc is not None:
            docs[key] = doc
        elif error is not None:
            errors[key] = error
    for pmid in batch:
        if pmid not in docs and pmid not in errors:
            if unattributed is not None:  # a record we could not tie to its PMID may have been this one
                errors[pmid] = (ItemErrorCode.CORRUPT_XML.value, f"efetch response: {unattributed[1]}")
            else:
                errors[pmid] = (ItemErrorCode.NOT_FOUND.value, "PubMed returned no record for this PMID")
    return docs, errors
