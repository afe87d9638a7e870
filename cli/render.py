"""Terminal output: tables, progress bars, JSON for scripts, errors with exit codes.

Human output (tables, bars) goes to the terminal; with --json, stdout carries exactly one JSON document and
progress bars are off, so a script can pipe it. Errors always go to stderr as `error: ...`, with an exit code
that says what kind of failure it was.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

TERMINAL = {"succeeded", "failed", "cancelled"}

# Exit codes (README, CLI section). Distinct per kind of failure so scripts can branch on them.
EXIT_OK = 0
EXIT_JOB_FAILED = 1  # the job ended failed or cancelled
EXIT_USAGE = 2  # bad arguments or input: the request was refused (400, 409, 413, 415, 422)
EXIT_SERVER = 3  # API unreachable, 5xx, or still rate-limited after retries
EXIT_AUTH = 4  # no token, or the token is invalid or revoked (401, 403)
EXIT_NOT_FOUND = 5  # no such job in this project (404)
EXIT_TIMEOUT = 6  # --timeout passed before the job ended (the job goes on)
EXIT_INTERRUPTED = 130  # Ctrl-C while waiting (the job goes on)


class TransientFailure(Exception):
    """A poll that may succeed if repeated (API restarting, 5xx, 429): waits retry it for a while."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def job_table(job: Mapping[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    counts = job.get("counts") or {}
    shards = job.get("shards") or {}
    by_status = shards.get("by_status") or {}
    shard_text = f"{shards.get('done', 0)} done of {shards.get('total') or shards.get('created', '?')}"
    if by_status:
        shard_text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) + ")"
    rows = [
        ("job", job.get("id")),
        ("name", job.get("name") or "-"),
        ("domain", job.get("domain")),
        ("status", job.get("status")),
        ("items", _fmt_counts(counts)),
        ("shards", shard_text),
        ("throughput", f"{job.get('throughput_items_per_s') or 0:,.1f} items/s"),
        ("eta", f"{job['eta_s']:.0f} s" if job.get("eta_s") is not None else "-"),
        ("created", job.get("created_at") or "-"),
        ("finished", job.get("finished_at") or "-"),
        ("error", f"{job['error_code']}: {job.get('error_message') or ''}" if job.get("error_code") else "-"),
    ]
    for k, v in rows:
        table.add_row(f"[bold]{k}[/]", str(v))
    return table


def _fmt_counts(c: Mapping[str, Any]) -> str:
    return (
        f"{c.get('items_succeeded', 0):,} ok, {c.get('items_failed', 0):,} errors, "
        f"{c.get('items_pending', '?')} pending of {c.get('items_total') or c.get('items_ingested', '?')}"
    )


def rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> Table:
    table = Table(title=title)
    for col in columns:
        numeric = any(isinstance(r.get(col), int | float) and not isinstance(r.get(col), bool) for r in rows)
        table.add_column(
            col,
            overflow="fold",
            max_width=60 if "smiles" in col or col in ("message", "reasons") else None,
            justify="right" if numeric else "left",
        )
    for row in rows:
        table.add_row(*[_fmt(row.get(c)) for c in columns])
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def wait_with_progress(
    poll: Callable[[], Mapping[str, Any]],
    interval: float = 0.5,
    quiet: bool = False,
    timeout_s: float | None = None,
    patience_s: float = 120.0,
) -> dict[str, Any]:
    """Poll a job until it is terminal, drawing a progress bar of items done over items known.

    A poll that raises TransientFailure (API restarting, 5xx, 429) is retried for up to `patience_s`; then the
    wait fails with EXIT_SERVER. Past `timeout_s` it stops with EXIT_TIMEOUT; Ctrl-C stops with
    EXIT_INTERRUPTED. Either way the job itself goes on."""
    start = time.monotonic()
    job: dict[str, Any] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task("queued", total=None, rate="")
        failing_since: float | None = None
        try:
            while True:
                try:
                    job = dict(poll())
                    failing_since = None
                except TransientFailure as exc:
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since > patience_s:
                        raise
                    progress.update(task, description=f"retrying ({exc})")
                    time.sleep(min(5.0, interval * 4))
                    continue
                c = job.get("counts") or {}
                done = int(c.get("items_succeeded", 0)) + int(c.get("items_failed", 0))
                total = c.get("items_total") or c.get("items_ingested") or None
                rate = job.get("throughput_items_per_s") or 0
                progress.update(task, description=job["status"], completed=done, total=total, rate=f"{rate:,.0f}/s")
                if job["status"] in TERMINAL:
                    return job
                if timeout_s is not None and time.monotonic() - start > timeout_s:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            progress.stop()
            _stopped_waiting(job, "interrupted", EXIT_INTERRUPTED)
        except TransientFailure as exc:
            progress.stop()
            fail(f"gave up waiting after {patience_s:.0f} s of failed polls: {exc}", EXIT_SERVER)
    _stopped_waiting(job, f"still {job.get('status', 'unknown')} after {timeout_s:.0f} s", EXIT_TIMEOUT)


def _stopped_waiting(job: Mapping[str, Any], why: str, code: int) -> NoReturn:
    ident = job.get("id", "")
    fail(f"{why}; the job goes on (check it with `medsieve status {ident} --wait`)", code)


def transfer_progress(quiet: bool) -> Progress:
    """A byte-count bar for uploads and downloads (transient: it disappears when done)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
