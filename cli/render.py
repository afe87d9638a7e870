"""Terminal output: tables, progress bars, JSON for scripts, errors with exit codes."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

TERMINAL = {"succeeded", "failed", "cancelled"}

# Exit codes: 0 ok, 1 job failed/cancelled, 2 usage or input error, 3 API/server error, 4 not found/auth.
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVER = 3
EXIT_AUTH = 4


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    sys.exit(code)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def job_table(job: Mapping[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    counts = job.get("counts") or {}
    rows = [
        ("job", job.get("id")),
        ("domain", job.get("domain")),
        ("status", job.get("status")),
        ("items", _fmt_counts(counts)),
        ("throughput", f"{job.get('throughput_items_per_s') or 0:.1f} items/s"),
        ("eta", f"{job['eta_s']:.0f} s" if job.get("eta_s") is not None else "-"),
        ("error", job.get("error_message") or "-"),
    ]
    for k, v in rows:
        table.add_row(f"[bold]{k}[/]", str(v))
    return table


def _fmt_counts(c: Mapping[str, Any]) -> str:
    return (
        f"{c.get('items_succeeded', 0)} ok, {c.get('items_failed', 0)} errors, "
        f"{c.get('items_pending', '?')} pending of {c.get('items_total') or c.get('items_ingested', '?')}"
    )


def rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> Table:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold", max_width=60 if "smiles" in col else None)
    for row in rows:
        table.add_row(*[_fmt(row.get(c)) for c in columns])
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def wait_with_progress(poll: Callable[[], Mapping[str, Any]], interval: float = 0.5, quiet: bool = False) -> dict:
    """Poll a job until it is terminal, drawing a progress bar of items done over items known."""
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
        while True:
            job = dict(poll())
            c = job.get("counts") or {}
            done = int(c.get("items_succeeded", 0)) + int(c.get("items_failed", 0))
            total = c.get("items_total") or c.get("items_ingested") or None
            rate = job.get("throughput_items_per_s") or 0
            progress.update(task, description=job["status"], completed=done, total=total, rate=f"{rate:,.0f}/s")
            if job["status"] in TERMINAL:
                return job
            time.sleep(interval)
