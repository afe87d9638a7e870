"""The reliability checker (../shared/RELIABILITY-MATRIX.md, "How to check results"), after Jepsen's queue checker.

Given the jobs a test submitted and, per job, the item indices it must end with, it reads the tables directly
(the truth a user cannot see through the API) and counts:
- lost: expected items without exactly one terminal state (a result row or an item error) - items with none;
- duplicated: extra terminal rows for an item, more than one provenance row per shard, and every job counter that
  differs from COUNT(*) of the rows it counts (items_succeeded, items_failed, shards_done);
- unexpected: rows for items outside the expected set, rows whose shard belongs to another job, and jobs that
  ended up in another project than the one that submitted them;
- non-monotonic status: a job seen moving backwards (queued -> ingesting -> running -> terminal) or leaving a
  terminal state, from a watcher that polls while the fault happens;
- executions: shard attempts summed over the jobs (at-least-once execution shows here; it is a metric, not a
  failure), and shards.

Every fault test prints its one-line summary (`FAULT R3: lost=0 duplicated=0 ...`); the lines are collected and
repeated at the end of the pytest run.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

SUMMARY_LINES: list[str] = []
SUMMARY_FILE = Path(__file__).resolve().parents[1] / "_artifacts" / "reliability-faults.txt"

_RANK = {"queued": 0, "ingesting": 1, "running": 2, "succeeded": 3, "failed": 3, "cancelled": 3}
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class Expect:
    """One submitted job: the item indices it must end with and the project that submitted it."""

    job_id: uuid.UUID
    items: frozenset[int]
    project_id: uuid.UUID | None = None

    @classmethod
    def first(cls, job_id: uuid.UUID | str, n: int, project_id: uuid.UUID | None = None) -> Expect:
        return cls(uuid.UUID(str(job_id)), frozenset(range(n)), project_id)


@dataclass
class Outcome:
    fault: str
    jobs: int
    expected: int
    results: int
    errors: int
    lost: int
    duplicated: int
    unexpected: int
    non_monotonic: int
    executions: int
    shards: int
    statuses: dict[str, int]
    error_codes: dict[str, int]
    problems: list[str] = field(default_factory=list)

    def line(self, **extra: Any) -> str:
        tail = "".join(f" {k}={v}" for k, v in extra.items())
        return (
            f"FAULT {self.fault}: lost={self.lost} duplicated={self.duplicated} unexpected={self.unexpected} "
            f"executions={self.executions} shards={self.shards}{tail}"
        )

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.non_monotonic)


class StatusWatcher(threading.Thread):
    """Polls the watched jobs' status and records every change; survives a database that is down."""

    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(name="status-watcher", daemon=True)
        self.interval_s = interval_s
        self.history: dict[uuid.UUID, list[str]] = {}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def watch(self, job_id: uuid.UUID | str) -> None:
        with self._lock:
            self.history.setdefault(uuid.UUID(str(job_id)), [])

    def _poll(self) -> None:
        from db.models import Job
        from db.session import unit_of_work

        with self._lock:
            ids = list(self.history)
        if not ids:
            return
        with unit_of_work() as session:
            rows = session.execute(select(Job.id, Job.status).where(Job.id.in_(ids))).all()
        with self._lock:
            for job_id, status in rows:
                seen = self.history[job_id]
                if not seen or seen[-1] != status:
                    seen.append(str(status))

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._poll()
            except Exception:  # the database may be the thing the test took down
                time.sleep(0.2)
            self._stop_event.wait(self.interval_s)

    def finish(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
        with contextlib.suppress(Exception):
            self._poll()

    def violations(self) -> list[str]:
        out = []
        for job_id, seen in self.history.items():
            ranks = [_RANK.get(s, -1) for s in seen]
            terminal_at = next((i for i, s in enumerate(seen) if s in TERMINAL), None)
            backwards = any(b < a for a, b in itertools.pairwise(ranks))
            left_terminal = terminal_at is not None and len(seen) > terminal_at + 1
            if backwards or left_terminal or -1 in ranks:
                out.append(f"job {job_id}: {' -> '.join(seen)}")
        return out


def check(
    fault: str,
    jobs: list[Expect],
    *,
    watcher: StatusWatcher | None = None,
    statuses: frozenset[str] = frozenset({"succeeded"}),
    result_model: Any = None,
) -> Outcome:
    """Counts lost/duplicated/unexpected over `jobs` (see the module docstring); `statuses`: the end states a job
    may be in (a job in any other state, e.g. still running, is reported as a problem)."""
    from db.models import ItemError, Job, Provenance, ScreeningResult, Shard
    from db.session import unit_of_work

    model = result_model or ScreeningResult
    ids = [e.job_id for e in jobs]
    with unit_of_work() as session:
        job_rows = {j.id: j for j in session.execute(select(Job).where(Job.id.in_(ids))).scalars()}
        shard_rows = session.execute(
            select(Shard.id, Shard.job_id, Shard.status, Shard.attempts).where(Shard.job_id.in_(ids))
        ).all()
        shard_ids = [s.id for s in shard_rows]
        results = session.execute(
            select(model.job_id, model.item_index, model.shard_id).where(
                model.job_id.in_(ids) | model.shard_id.in_(shard_ids)
            )
        ).all()
        errors = session.execute(
            select(ItemError.job_id, ItemError.item_index, ItemError.shard_id, ItemError.code).where(
                ItemError.job_id.in_(ids) | ItemError.shard_id.in_(shard_ids)
            )
        ).all()
        provenance = session.execute(
            select(Provenance.job_id, Provenance.shard_id).where(
                Provenance.job_id.in_(ids) | Provenance.shard_id.in_(shard_ids)
            )
        ).all()

    problems: list[str] = []
    shard_job = {s.id: s.job_id for s in shard_rows}
    lost = duplicated = unexpected = 0
    for expect in jobs:
        job = job_rows.get(expect.job_id)
        if job is None:
            problems.append(f"job {expect.job_id} does not exist")
            lost += len(expect.items)
            continue
        if job.status not in statuses:
            problems.append(f"job {job.id} ended {job.status} ({job.error_code}), expected one of {sorted(statuses)}")
        if expect.project_id is not None and job.project_id != expect.project_id:
            problems.append(f"job {job.id} belongs to project {job.project_id}, not {expect.project_id}")
            unexpected += 1
        own_results = [r for r in results if r.job_id == job.id]
        own_errors = [e for e in errors if e.job_id == job.id]
        terminal = Counter([r.item_index for r in own_results] + [e.item_index for e in own_errors])
        missing = expect.items - set(terminal)
        extra_rows = sum(n - 1 for n in terminal.values() if n > 1)
        foreign = set(terminal) - expect.items
        lost += len(missing)
        duplicated += extra_rows
        unexpected += sum(terminal[i] for i in foreign)
        if missing:
            problems.append(f"job {job.id}: {len(missing)} items without a terminal state, e.g. {sorted(missing)[:5]}")
        if extra_rows:
            problems.append(f"job {job.id}: {extra_rows} extra terminal rows")
        own_shards = [s for s in shard_rows if s.job_id == job.id]
        counters = {
            "items_succeeded": (job.items_succeeded, len(own_results)),
            "items_failed": (job.items_failed, len(own_errors)),
            "shards_done": (job.shards_done, sum(s.status in ("succeeded", "failed") for s in own_shards)),
        }
        if job.status == "succeeded":
            counters["items_total"] = (job.items_total, len(expect.items))
        for name, (counter, actual) in counters.items():
            if counter != actual:
                duplicated += abs((counter or 0) - actual)
                problems.append(f"job {job.id}: {name}={counter} but COUNT(*)={actual}")
    # Rows written through a shard of another job (cross-wired ids) are someone else's data.
    for kind, rows in (("result", results), ("item error", errors), ("provenance", provenance)):
        crossed = [r for r in rows if shard_job.get(r.shard_id) != r.job_id]
        if crossed:
            unexpected += len(crossed)
            problems.append(f"{len(crossed)} {kind} rows whose shard belongs to another job")
    per_shard = Counter(p.shard_id for p in provenance)
    extra_prov = sum(n - 1 for n in per_shard.values() if n > 1)
    if extra_prov:
        duplicated += extra_prov
        problems.append(f"{extra_prov} extra provenance rows")
    for s in shard_rows:
        if s.status == "succeeded" and per_shard.get(s.id, 0) != 1:
            problems.append(f"succeeded shard {s.id} has {per_shard.get(s.id, 0)} provenance rows")

    non_monotonic = 0
    if watcher is not None:
        bad = watcher.violations()
        non_monotonic = len(bad)
        problems.extend(f"status not monotonic: {b}" for b in bad)
    outcome = Outcome(
        fault=fault,
        jobs=len(jobs),
        expected=sum(len(e.items) for e in jobs),
        results=sum(1 for r in results if r.job_id in job_rows),
        errors=sum(1 for e in errors if e.job_id in job_rows),
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        non_monotonic=non_monotonic,
        executions=sum(int(s.attempts) for s in shard_rows),
        shards=len(shard_rows),
        statuses=dict(Counter(str(s.status) for s in shard_rows)),
        error_codes=dict(Counter(str(e.code) for e in errors)),
        problems=problems,
    )
    return outcome


def report(outcome: Outcome, **extra: Any) -> str:
    """Prints and records the one-line summary; call it before asserting so a failing run still reports."""
    line = outcome.line(**extra)
    print(f"\n{line}")
    for problem in outcome.problems[:20]:
        print(f"  {problem}")
    SUMMARY_LINES.append(line)
    try:
        SUMMARY_FILE.parent.mkdir(parents=True, exist_ok=True)
        with SUMMARY_FILE.open("a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    except OSError:
        pass
    return line


def assert_clean(outcome: Outcome) -> None:
    assert outcome.clean and not outcome.problems, outcome.problems
