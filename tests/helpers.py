"""Test helpers shared by worker and end-to-end tests: submit through the real service, wait, and check the
exactly-once invariants the way a queue checker does (lost = 0, duplicated = 0, unexpected = 0)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

TERMINAL = {"succeeded", "failed", "cancelled"}


# Platform tests exercise the machinery (shards, kills, tenancy, 100k-row paging), not the chemistry: screening
# jobs there run the descriptor stage only (no ADMET panel, no standardization, no alert catalogs), whose CPU time
# would otherwise dominate on 2 cores. The chemistry has its own tests (tests/screening*, tests/e2e/test_screening,
# and the README command's test runs the full default pipeline).
PLATFORM_SCREENING: dict[str, Any] = {
    "admet": False,
    "standardize": {"enabled": False},
    "filters": {"families": ["lipinski", "veber"]},
}


def submit_file(
    path: Path, domain: str = "screening", params: dict[str, Any] | None = None, project: str = "t"
) -> uuid.UUID:
    from cli.embedded_run import submit_local
    from core.artifacts import store_chunks
    from core.settings import get_settings

    settings = get_settings()
    with path.open("rb") as fh:
        artifact = store_chunks(settings.resolved_artifact_dir, iter(lambda: fh.read(1 << 20), b""), 1 << 34)
    if domain == "screening":
        params = {**PLATFORM_SCREENING, **(params or {})}
    return submit_local(domain, params or {}, artifact, path.name, "cpu", project)


def job_row(job_id: uuid.UUID) -> Any:
    from db.models import Job
    from db.session import unit_of_work

    with unit_of_work() as session:
        return session.get(Job, job_id)


def wait_job(job_id: uuid.UUID, timeout: float = 120.0, statuses: set[str] = TERMINAL) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = job_row(job_id)
        if job.status in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout}s: {job_counts(job)}")
        time.sleep(0.1)


def job_counts(job: Any) -> dict[str, Any]:
    return {
        k: getattr(job, k)
        for k in ("status", "items_total", "items_succeeded", "items_failed", "shards_total", "shards_done")
    }


@dataclass
class Check:
    expected: int
    results: int
    errors: int
    lost: int
    duplicated: int
    unexpected: int
    executions: int  # sum of shard attempts: at-least-once execution shows here, not in the effects


def check_exactly_once(job_id: uuid.UUID, expected: int) -> Check:
    """Every item index 0..expected-1 has exactly one terminal state, counters equal row counts."""
    from db.models import ItemError, Job, ScreeningResult, Shard
    from db.session import unit_of_work

    with unit_of_work() as session:
        res = (
            session.execute(select(ScreeningResult.item_index).where(ScreeningResult.job_id == job_id)).scalars().all()
        )
        err = session.execute(select(ItemError.item_index).where(ItemError.job_id == job_id)).scalars().all()
        job = session.get(Job, job_id)
        attempts = session.execute(
            select(func.coalesce(func.sum(Shard.attempts), 0)).where(Shard.job_id == job_id)
        ).scalar_one()
    seen = list(res) + list(err)
    distinct = set(seen)
    expected_keys = set(range(expected))
    check = Check(
        expected=expected,
        results=len(res),
        errors=len(err),
        lost=len(expected_keys - distinct),
        duplicated=len(seen) - len(distinct),
        unexpected=len(distinct - expected_keys),
        executions=int(attempts),
    )
    assert job is not None
    assert job.items_succeeded == len(res), (job.items_succeeded, len(res))
    assert job.items_failed == len(err), (job.items_failed, len(err))
    return check
