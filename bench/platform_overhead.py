"""Platform overhead benchmark (issue 2).

1. Shard overhead: one worker process (concurrency 1) on the real RabbitMQ + Postgres runs a screening job of
   real-derived molecules (the first screening slice: RDKit parse + descriptors, a CPU-light pipeline).
   overhead = (wall time from first shard start to job end - sum of pipeline compute time) / that wall time.
   It counts broker delivery, claim and write transactions, shard decode, job counters: all the platform adds.
2. API latency: the API server (uvicorn, one process) under 50 concurrent pollers of GET /v1/jobs/{id} on
   loopback (an asyncio client in a separate process, one token per poller so the per-token limiter is not what
   is measured), and sequential submit latency (POST /v1/jobs with 100 inline SMILES).

Run:  .venv/bin/python -m bench.platform_overhead [--molecules 20000] [--shard-size 1000] [--seconds 15]
Needs PostgreSQL on 127.0.0.1:5432 and RabbitMQ on 127.0.0.1:5672 (creates and drops its own database/vhost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.processes import Proc
from bench.services import temp_services


def _pctl(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _poll(
    base: str, tokens: list[str], job_id: str, seconds: float, interval: float
) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        stop = time.monotonic() + seconds

        async def one(token: str) -> None:
            nonlocal errors
            headers = {"Authorization": f"Bearer {token}"}
            if interval:
                # Independent pollers are not in lockstep: each starts at a random phase of the interval.
                await asyncio.sleep(random.uniform(0, interval))
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = await client.get(f"/v1/jobs/{job_id}", headers=headers)
                except httpx.TransportError:
                    # A keep-alive connection the server closed as the client reused it: counted, not fatal.
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors += 1
                if interval:
                    await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t0)))

        await asyncio.gather(*(one(t) for t in tokens))
    return latencies, errors, len(latencies)


def _poll_process(base: str, tokens: list[str], job_id: str, seconds: float, interval: float, out: mp.Queue) -> None:
    out.put(asyncio.run(_poll(base, tokens, job_id, seconds, interval)))


def _server_seconds(base: str) -> tuple[float, float]:
    """(sum, count) of the API's own latency histogram for the poll route, read from /metrics."""
    total = count = 0.0
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if 'method="GET"' in line and 'route="/v1/jobs/{job_id}"' in line:
            if line.startswith("medsieve_http_request_duration_seconds_sum"):
                total = float(line.rsplit(" ", 1)[1])
            elif line.startswith("medsieve_http_request_duration_seconds_count"):
                count = float(line.rsplit(" ", 1)[1])
    return total, count


def _poll_run(base: str, tokens: list[str], job_id: str, seconds: float, interval: float) -> dict[str, float]:
    """Pollers in a separate process, so the client's CPU is not the API's. The server-side mean (from the
    API's own histogram) separates time spent in the API from time queued in the client's event loop."""
    before = _server_seconds(base)
    q: mp.Queue = mp.Queue()
    proc = mp.Process(target=_poll_process, args=(base, tokens, job_id, seconds, interval, q))
    proc.start()
    lat, errors, n = q.get()
    proc.join()
    after = _server_seconds(base)
    served = max(1.0, after[1] - before[1])
    return {
        "server_mean_ms": round((after[0] - before[0]) / served * 1000, 2),
        "requests": n,
        "rps": round(n / seconds, 1),
        "errors": errors,
        "p50_ms": round(_pctl(lat, 0.5), 2),
        "p99_ms": round(_pctl(lat, 0.99), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--molecules", type=int, default=20_000)
    ap.add_argument("--shard-size", type=int, default=1_000)
    ap.add_argument("--pollers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument(
        "--poll-interval", type=float, default=1.0, help="Seconds between one poller's requests (paced run)."
    )
    ap.add_argument("--api-processes", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="medsieve-bench-"))
    procs = []
    with temp_services() as (db_url, amqp):
        try:
            _run(args, tmp, db_url, amqp, procs)
        finally:
            for p in procs:
                p.stop()
            shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, tmp: Path, db_url: str, amqp: str, procs: list[Proc]) -> None:
    from bench.libraries import write_library
    from bench.processes import service_env, start_api, start_worker

    env = service_env(
        db_url,
        amqp,
        tmp / "data",
        shard_size=str(args.shard_size),
        rate_limit_rps="100000",
        rate_limit_burst="100000",
    )
    api, base = start_api(env, tmp / "api.log", args.api_processes)
    procs.append(api)
    worker = start_worker(env, tmp / "worker.log", concurrency=1)
    procs.append(worker)
    tokens = [
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "token",
                "create",
                "--project",
                "bench",
                "--name",
                f"p{i}",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for i in range(args.pollers)
    ]
    hdr = {"Authorization": f"Bearer {tokens[0]}"}
    lib = write_library(tmp / "lib.smi.gz", args.molecules)
    with httpx.Client(base_url=base, headers=hdr, timeout=120) as client:
        t0 = time.perf_counter()
        with lib.open("rb") as fh:
            r = client.post(
                "/v1/jobs",
                # The RDKit descriptor pipeline only: the ADMET panel's CPU time would swamp the platform's share.
                data={"domain": "screening", "parameters": '{"admet": false}'},
                files={"file": (lib.name, fh)},
            )
        r.raise_for_status()
        job_id = r.json()["id"]
        while client.get(f"/v1/jobs/{job_id}").json()["status"] not in ("succeeded", "failed", "cancelled"):
            time.sleep(0.2)
        job_wall = time.perf_counter() - t0

    from db.models import Job, Shard
    from db.session import session_factory

    with session_factory(db_url)() as s:
        job = s.get(Job, uuid.UUID(job_id))
        first_start = s.execute(select(func.min(Shard.started_at)).where(Shard.job_id == job.id)).scalar_one()
        compute_ms = s.execute(select(func.sum(Shard.compute_ms)).where(Shard.job_id == job.id)).scalar_one()
        write_ms = s.execute(select(func.sum(Shard.write_ms)).where(Shard.job_id == job.id)).scalar_one()
        n_shards = job.shards_total
        run_wall = (job.finished_at - first_start).total_seconds()
        status = job.status
    overhead = (run_wall - compute_ms / 1000) / run_wall

    # Submit latency: small inline jobs, one after another.
    submit_ms = []
    with httpx.Client(base_url=base, headers=hdr, timeout=30) as client:
        for i in range(100):
            items = [f"C{'C' * (i % 7)}O" for _ in range(100)]
            t = time.perf_counter()
            r = client.post("/v1/jobs", json={"domain": "screening", "items": items})
            submit_ms.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()

    # Paced: each poller polls every --poll-interval s, like a dashboard or a CLI --wait loop.
    paced = _poll_run(base, tokens, job_id, args.seconds, args.poll_interval)
    # Closed loop: every poller fires its next request as soon as the last one returns (saturation).
    saturated = _poll_run(base, tokens, job_id, args.seconds, 0.0)

    figures = {
        "molecules": args.molecules,
        "shards": n_shards,
        "job_status": status,
        "job_wall_s_submit_to_done": round(job_wall, 2),
        "shard_run_wall_s": round(run_wall, 2),
        "pipeline_compute_s": round(compute_ms / 1000, 2),
        "write_txn_s": round((write_ms or 0) / 1000, 2),
        "platform_overhead_fraction": round(overhead, 4),
        "throughput_molecules_per_s": round(args.molecules / run_wall, 1),
        "submit_ms_p50": round(_pctl(submit_ms, 0.5), 2),
        "submit_ms_p99": round(_pctl(submit_ms, 0.99), 2),
        "api_processes": args.api_processes,
        "pollers": args.pollers,
        "poll_interval_s": args.poll_interval,
        "poll_paced": paced,
        "poll_closed_loop": saturated,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
