"""Hostile input at the API (reliability matrix U2, U5, U6, U7, U8) against a real `medsieve serve` process and a real
worker: refused fast, memory flat, nothing enqueued, no thread held, one tenant's storm not felt by another."""

from __future__ import annotations

import gzip
import socket
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.e2e.harness import Stack, accepted, running_stack, wait_job

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.timeout(300)]

ITEM_CAP = 1000
IDLE_TIMEOUT_S = 2


@dataclass
class Api:
    stack: Stack
    pid: int

    def rss_kib(self, key: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise AssertionError(key)

    def client(self, project: str | None = None) -> httpx.Client:
        return self.stack.client(project or f"hostile-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def api(pg_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = {"max_items_per_job": str(ITEM_CAP), "upload_idle_timeout_s": str(IDLE_TIMEOUT_S)}
    with running_stack(pg_url, amqp_url, tmp_path_factory.mktemp("hostile"), workers=1, **settings) as stack:
        yield Api(stack, stack.procs["api"].p.pid)


def _post_raw(client: httpx.Client, body: bytes, headers: dict[str, str]) -> tuple[int, str, float]:
    t0 = time.monotonic()
    try:
        r = client.post("/v1/jobs", content=body, headers=headers)
        return r.status_code, r.text, time.monotonic() - t0
    except httpx.TransportError as exc:  # the server may answer and close before the client finished sending
        return -1, repr(exc), time.monotonic() - t0


def test_u2_floods_of_parts_and_fields_are_refused_fast(api: Api) -> None:
    client = api.client()
    before = api.rss_kib()
    files = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.smi"\r\n\r\nC\r\n' for _ in range(100_000)
    )
    fields = b"".join(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(100_000))
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    urlencoded = b"&".join(b"f%d=x" % i for i in range(100_000))
    answers = {
        "100k file parts": _post_raw(client, files + b"--b--\r\n", multipart),
        "100k form fields": _post_raw(client, fields + b"--b--\r\n", multipart),
        "100k urlencoded fields": _post_raw(client, urlencoded, {"Content-Type": "application/x-www-form-urlencoded"}),
    }
    growth_mib = (api.rss_kib("VmHWM") - before) / 1024
    print(
        f"\nU2: { ({k: (s, round(t, 2)) for k, (s, _b, t) in answers.items()}) }, API peak growth {growth_mib:.1f} MiB"
    )
    assert answers["100k file parts"][0] == 400 and "exactly one file part" in answers["100k file parts"][1]
    assert answers["100k form fields"][0] == 422 and "unknown form field" in answers["100k form fields"][1]
    assert answers["100k urlencoded fields"][0] == 415
    assert all(t < 5 for _s, _b, t in answers.values())
    assert growth_mib < 40


def _job_shards(job_id: str) -> int:
    from db.models import Shard
    from db.session import unit_of_work

    with unit_of_work() as session:
        return int(session.execute(select(func.count()).where(Shard.job_id == uuid.UUID(job_id))).scalar_one())


def test_u5_gzip_content_encoding_bomb_is_stored_compressed_and_capped_at_ingest(api: Api) -> None:
    client = api.client()
    bomb = gzip.compress(b"C\n" * (64 * 1024 * 1024), compresslevel=9)  # 128 MiB of lines in ~130 KiB
    before = api.rss_kib()
    t0 = time.monotonic()
    r = client.post(
        "/v1/jobs",
        params={"domain": "screening", "filename": "bomb.smi"},
        content=bomb,
        headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
    )
    took = time.monotonic() - t0
    job_id = accepted(r)
    # The server never inflates the body: the stored input is the compressed bytes.
    assert r.json()["input_bytes"] == len(bomb)
    growth_mib = (api.rss_kib("VmHWM") - before) / 1024
    job = wait_job(client, job_id, 120, logs=api.stack.logs)
    assert (job["status"], job["error_code"]) == ("failed", "ITEM_LIMIT"), job
    assert _job_shards(job_id) == 0, "nothing was enqueued"
    # A JSON body is parsed as sent; a compressed one is not inflated but refused.
    j = client.post(
        "/v1/jobs",
        content=gzip.compress(b'{"domain": "screening", "items": ["CCO"]}' * 1000),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert j.status_code == 400 and j.json()["error"]["code"] == "MALFORMED_BODY"
    print(
        f"\nU5: {len(bomb)} B bomb (128 MiB inflated) accepted in {took:.2f} s as {len(bomb)} B, job failed "
        f"ITEM_LIMIT with 0 shards; API peak growth {growth_mib:.1f} MiB"
    )
    assert growth_mib < 20


def test_u6_item_cap_fails_the_job_and_enqueues_nothing(api: Api, tmp_path: Path) -> None:
    from bench.libraries import write_library

    client = api.client()
    library = write_library(tmp_path / "over.smi", ITEM_CAP + 500).read_bytes()
    r = client.post("/v1/jobs", data={"domain": "screening"}, files={"file": ("over.smi", library, "text/plain")})
    job_id = accepted(r)
    job = wait_job(client, job_id, 120, logs=api.stack.logs)
    assert (job["status"], job["error_code"]) == ("failed", "ITEM_LIMIT"), job
    assert str(ITEM_CAP) in job["error_message"]
    assert _job_shards(job_id) == 0 and job["items_succeeded"] == job["items_failed"] == 0
    assert client.get(f"/v1/jobs/{job_id}/results").json()["items"] == []


def _open_slow_upload(base_url: str, token: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        "POST /v1/jobs?domain=screening&filename=slow.smi HTTP/1.1\r\n"
        f"Host: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\n"
        "Content-Length: 1000000\r\n\r\nCCO\n"
    )
    sock.sendall(head.encode())
    return sock


def test_u7_slow_uploads_hold_no_thread_and_time_out(api: Api) -> None:
    token = api.stack.token(f"slow-{uuid.uuid4().hex[:8]}")
    poller = api.client()
    artifacts = api.stack.data_dir / "artifacts"
    files_before = sorted(p.name for p in artifacts.rglob("*") if p.is_file()) if artifacts.exists() else []
    socks = [_open_slow_upload(api.stack.base_url, token) for _ in range(60)]  # more than the 40-thread pool
    try:
        time.sleep(0.5)
        latencies = []
        for _ in range(20):
            t0 = time.monotonic()
            assert poller.get("/v1/jobs").status_code == 200
            latencies.append(time.monotonic() - t0)
        answers = Counter()
        t0 = time.monotonic()
        for sock in socks:
            data = sock.recv(200).decode(errors="replace")
            answers[data.split("\r\n", 1)[0]] += 1
        waited = time.monotonic() - t0
    finally:
        for sock in socks:
            sock.close()
    files_after = sorted(p.name for p in artifacts.rglob("*") if p.is_file()) if artifacts.exists() else []
    print(
        f"\nU7: 60 stalled uploads; polls meanwhile p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms; answers {dict(answers)} within {waited:.1f} s"
    )
    assert max(latencies) < 1.0
    assert answers == {"HTTP/1.1 408 Request Timeout": 60}
    assert files_after == files_before, "partial uploads were left behind"


def test_u8_polling_storm_gets_429_and_another_tenant_is_unaffected(api: Api) -> None:
    base = api.stack.start_api("api-limited", rate_limit_rps="5", rate_limit_burst="10")
    storm = api.stack.client(f"storm-{uuid.uuid4().hex[:8]}", base_url=base)
    calm = api.stack.client(f"calm-{uuid.uuid4().hex[:8]}", base_url=base)
    job_id = accepted(storm.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"]}))
    calm_job = accepted(calm.post("/v1/jobs", json={"domain": "screening", "items": ["CCN"]}))
    stop = threading.Event()
    storm_answers: Counter[int] = Counter()
    retry_after: set[str] = set()

    def hammer() -> None:
        while not stop.is_set():
            r = storm.get(f"/v1/jobs/{job_id}")
            storm_answers[r.status_code] += 1
            if r.status_code == 429:
                retry_after.add(r.headers.get("retry-after", ""))

    calm_answers: list[tuple[int, float]] = []
    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(hammer)
        time.sleep(0.5)
        for _ in range(10):
            t0 = time.monotonic()
            code = calm.get(f"/v1/jobs/{calm_job}").status_code
            calm_answers.append((code, time.monotonic() - t0))
            time.sleep(0.2)
        stop.set()
    print(
        f"\nU8: storm answers {dict(storm_answers)}, Retry-After {sorted(retry_after)}; other tenant "
        f"{Counter(c for c, _ in calm_answers)}, max {max(t for _, t in calm_answers) * 1000:.0f} ms"
    )
    assert storm_answers[429] > 10 * storm_answers[200]
    assert set(storm_answers) <= {200, 429}
    assert retry_after and all(v.isdigit() and int(v) >= 1 for v in retry_after)
    assert [c for c, _ in calm_answers] == [200] * 10
    assert max(t for _, t in calm_answers) < 1.0
