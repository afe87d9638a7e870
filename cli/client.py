"""Client commands: talk to a running API (MEDSIEVE_API_URL, MEDSIEVE_API_TOKEN)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import typer

from cli.folders import as_upload
from cli.params import HELP as PARAMS_HELP
from cli.params import params_text
from cli.render import (
    EXIT_AUTH,
    EXIT_JOB_FAILED,
    EXIT_NOT_FOUND,
    EXIT_SERVER,
    EXIT_USAGE,
    TransientFailure,
    console,
    fail,
    job_table,
    print_json,
    rows_table,
    transfer_progress,
    wait_with_progress,
)

TOKEN_OPT = typer.Option(None, "--token", help="API token (default MEDSIEVE_API_TOKEN).")
URL_OPT = typer.Option(None, "--api", help="API base URL (default MEDSIEVE_API_URL or http://127.0.0.1:8000).")
JSON_OPT = typer.Option(False, "--json", help="Machine-readable output on stdout (no progress bars).")
_TIMEOUT_OPT = typer.Option(None, "--timeout", min=1, help="With --wait: give up after this many seconds (exit 6).")
TABLE_COLUMNS = 7


class ApiError(Exception):
    def __init__(self, message: str, exit_code: int, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.transient = transient


def api_client(api: str | None, token: str | None) -> httpx.Client:
    from core.settings import get_settings

    s = get_settings()
    base = api or s.api_url or f"http://{s.api_host}:{s.api_port}"
    secret = token or s.api_token
    if not secret:
        fail(
            "no API token: pass --token or set MEDSIEVE_API_TOKEN (create one with `medsieve token create`)", EXIT_AUTH
        )
    return httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=httpx.Timeout(60, connect=5)
    )


def _error_of(resp: httpx.Response) -> ApiError:
    try:
        err = resp.json().get("error", {})
        message = f"{err.get('code', resp.status_code)}: {err.get('message', resp.text)}"
    except ValueError:
        message = f"HTTP {resp.status_code}: {resp.text[:200]}"
    status = resp.status_code
    if status in (401, 403):
        return ApiError(message, EXIT_AUTH)
    if status == 404:
        return ApiError(message, EXIT_NOT_FOUND)
    if status == 429 or status >= 500:
        return ApiError(message, EXIT_SERVER, transient=True)
    return ApiError(message, EXIT_USAGE)


def _call(client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
    try:
        resp = client.request(method, url, **kw)
    except httpx.TransportError as exc:
        raise ApiError(f"cannot reach the API at {client.base_url}: {exc}", EXIT_SERVER, transient=True) from exc
    if resp.status_code >= 400:
        raise _error_of(resp)
    return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp


def _export_sdf(
    client: httpx.Client, job_id: str, sort: str | None, filters: list[str], output: Path, json_out: bool
) -> None:
    """SDF needs RDKit, so a worker writes it: start the export, wait for it, then download the file."""
    body = {"format": "sdf", "sort": sort, "filters": filters}
    export = request(client, "POST", f"/v1/jobs/{job_id}/exports", json=body)
    url = f"/v1/jobs/{job_id}/exports/{export['id']}"
    with transfer_progress(quiet=json_out) as bar:
        task = bar.add_task("worker writing the SDF", total=None)
        while export["status"] not in ("succeeded", "failed"):
            time.sleep(0.5)
            export = request(client, "GET", url)
            bar.advance(task, 0)
        if export["status"] == "failed":
            fail(f"SDF export failed: {export['error']}", EXIT_JOB_FAILED)
        with client.stream("GET", export["download_url"]) as resp, output.open("wb") as fh:
            if resp.status_code >= 400:
                resp.read()
                err = _error_of(resp)
                fail(err.message, err.exit_code)
            bar.update(task, description=f"downloading {output.name}")
            for chunk in resp.iter_bytes():
                fh.write(chunk)
                bar.advance(task, len(chunk))
    summary = {"output": str(output), "records": export["records"], "bytes": output.stat().st_size}
    print_json(summary) if json_out else console.print(f"wrote {output} ({summary['records']:,} records)")


def download(client: httpx.Client, url: str, params: dict[str, Any], output: Path, json_out: bool) -> None:
    """Stream a GET into a file with a progress bar; an API error exits with its code."""
    try:
        with client.stream("GET", url, params=params) as resp, transfer_progress(quiet=json_out) as bar:
            if resp.status_code >= 400:
                resp.read()
                err = _error_of(resp)
                fail(err.message, err.exit_code)
            task = bar.add_task(f"exporting {output.name}", total=None)
            with output.open("wb") as fh:
                for chunk in resp.iter_bytes():
                    fh.write(chunk)
                    bar.advance(task, len(chunk))
    except httpx.TransportError as exc:
        fail(f"cannot reach the API: {exc}", EXIT_SERVER)
    size = output.stat().st_size
    print_json({"output": str(output), "bytes": size}) if json_out else console.print(
        f"wrote {output} ({size:,} bytes)"
    )


def request(client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
    try:
        return _call(client, method, url, **kw)
    except ApiError as exc:
        fail(exc.message, exc.exit_code)


def _job_poller(client: httpx.Client, job_id: str) -> Callable[[], dict[str, Any]]:
    def poll() -> dict[str, Any]:
        try:
            job: dict[str, Any] = _call(client, "GET", f"/v1/jobs/{job_id}")
            return job
        except ApiError as exc:
            if exc.transient:
                raise TransientFailure(exc.message) from exc
            fail(exc.message, exc.exit_code)

    return poll


class _CountingFile:
    """A binary file that reports how much of it has been read (the upload's progress bar)."""

    def __init__(self, fh: BinaryIO, advance: Callable[[int], None]) -> None:
        self._fh = fh
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._advance(len(data))
        return data

    def __getattr__(self, name: str) -> Any:  # fileno, seek, tell, name: the real file's
        return getattr(self._fh, name)


def _result_columns(columns: list[str], domain: str) -> list[str]:
    from api.web.views import domain_view, ordered_columns

    return ordered_columns(columns, domain_view(domain))[:TABLE_COLUMNS]


def register(app: typer.Typer) -> None:
    @app.command()
    def submit(
        file: Path = typer.Argument(..., exists=True, readable=True, help="A file, or a folder (sent as a zip)."),
        domain: str = typer.Option("screening", "--domain", "-d"),
        params: str = typer.Option("{}", "--params", "-p", help=PARAMS_HELP),
        name: str | None = typer.Option(None, "--name"),
        device: str | None = typer.Option(None, "--device", help="cpu or gpu"),
        idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
        wait: bool = typer.Option(False, "--wait", help="Wait with a progress bar until the job ends."),
        timeout: float | None = _TIMEOUT_OPT,
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Upload FILE as a new job (with an upload progress bar), optionally waiting for it to end."""
        data = {"domain": domain, "parameters": params_text(params)}
        if name:
            data["name"] = name
        if device:
            data["device"] = device
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        with api_client(api, token) as client, as_upload(file) as upload, upload.open("rb") as fh:
            with transfer_progress(quiet=json_out) as bar:
                task = bar.add_task(f"uploading {upload.name}", total=upload.stat().st_size)
                counted = _CountingFile(fh, lambda n: bar.advance(task, n))
                job = request(
                    client, "POST", "/v1/jobs", data=data, files={"file": (upload.name, counted)}, headers=headers
                )
            if not wait:
                print_json(job) if json_out else console.print(f"submitted job [bold]{job['id']}[/] ({job['status']})")
                return
            final = wait_with_progress(_job_poller(client, job["id"]), quiet=json_out, timeout_s=timeout)
        print_json(final) if json_out else console.print(job_table(final))
        raise typer.Exit(0 if final["status"] == "succeeded" else EXIT_JOB_FAILED)

    @app.command()
    def status(
        job_id: str,
        wait: bool = typer.Option(False, "--wait", help="Wait with a progress bar; exit 1 if it fails."),
        timeout: float | None = _TIMEOUT_OPT,
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Show a job's state, counts, shards, throughput and ETA."""
        with api_client(api, token) as client:
            if wait:
                job = wait_with_progress(_job_poller(client, job_id), quiet=json_out, timeout_s=timeout)
            else:
                job = request(client, "GET", f"/v1/jobs/{job_id}")
        print_json(job) if json_out else console.print(job_table(job))
        if wait and job["status"] != "succeeded":
            raise typer.Exit(EXIT_JOB_FAILED)

    @app.command("jobs")
    def list_jobs(
        status_filter: str | None = typer.Option(None, "--status"),
        domain: str | None = typer.Option(None, "--domain", "-d"),
        limit: int = typer.Option(20, "--limit", min=1, max=200),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """List recent jobs, newest first."""
        query: dict[str, Any] = {"limit": limit}
        if status_filter:
            query["status"] = status_filter
        if domain:
            query["domain"] = domain
        with api_client(api, token) as client:
            page = request(client, "GET", "/v1/jobs", params=query)
        if json_out:
            print_json(page)
            return
        if not page["items"]:
            console.print("no jobs")
            return
        rows = [
            {
                **j,
                "name": j.get("name") or "",
                "done": f"{j['items_succeeded'] + j['items_failed']:,} / "
                + (f"{j['items_total']:,}" if j.get("items_total") is not None else "?"),
                "errors": j["items_failed"],
                "created": str(j["created_at"])[:19].replace("T", " "),
            }
            for j in page["items"]
        ]
        console.print(rows_table(rows, ["id", "name", "domain", "status", "done", "errors", "created"]))

    @app.command()
    def results(
        job_id: str,
        output: Path | None = typer.Option(None, "--output", "-o", help="Export file: .csv, .parquet, .sdf."),
        top: int = typer.Option(20, "--top", min=1, max=1000, help="Without -o: rows to print."),
        sort: str | None = typer.Option(None, "--sort", help="A sortable column; '-' prefix for descending."),
        filters: list[str] | None = typer.Option(None, "--filter", help="col:op:value (repeatable)."),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Print the top results, or export all of them with -o (a download progress bar)."""
        query: dict[str, Any] = {}
        if sort:
            query["sort"] = sort
        if filters:
            query["filter"] = filters
        with api_client(api, token) as client:
            if output is None:
                page = request(client, "GET", f"/v1/jobs/{job_id}/results", params={**query, "limit": top})
                if json_out:
                    print_json(page)
                elif page["items"]:
                    job = request(client, "GET", f"/v1/jobs/{job_id}")
                    cols = _result_columns(page["columns"], job["domain"])
                    console.print(rows_table(page["items"], cols, title=f"top {len(page['items'])} by {page['sort']}"))
                else:
                    console.print("no results")
                return
            if output.suffix.lower() in (".sdf", ".sd"):
                _export_sdf(client, job_id, sort, filters or [], output, json_out)
                return
            fmt = "parquet" if output.suffix.lower() == ".parquet" else "csv"
            download(client, f"/v1/jobs/{job_id}/export", {**query, "format": fmt}, output, json_out)

    @app.command()
    def errors(
        job_id: str,
        code: str | None = typer.Option(None, "--code", help="Only this error code."),
        limit: int = typer.Option(50, "--limit", min=1, max=1000),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """List per-item errors of a job, with their codes and reasons."""
        query: dict[str, Any] = {"limit": limit, **({"code": code} if code else {})}
        with api_client(api, token) as client:
            page = request(client, "GET", f"/v1/jobs/{job_id}/errors", params=query)
        if json_out:
            print_json(page)
        elif page["items"]:
            console.print(rows_table(page["items"], ["item_index", "item_key", "code", "message"]))
        else:
            console.print("no item errors")

    @app.command()
    def provenance(
        job_id: str,
        limit: int = typer.Option(20, "--limit", min=1, max=1000),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Per-shard provenance: model, weights sha256, code version, host, device."""
        with api_client(api, token) as client:
            page = request(client, "GET", f"/v1/jobs/{job_id}/provenance", params={"limit": limit})
        if json_out:
            print_json(page)
            return
        rows = [
            {**p, "model": f"{p['model_name']} {p['model_version']}", "weights": p["model_sha256"][:16]}
            for p in page["items"]
        ]
        cols = ["shard_index", "item_start", "item_count", "model", "weights", "code_version", "host", "device"]
        console.print(rows_table(rows, cols) if rows else "no shard has finished yet")

    @app.command()
    def worklist(
        job_id: str,
        limit: int = typer.Option(50, "--limit", min=1, max=500),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Triage: studies by urgency, with each series' priority, probability and reasons."""
        with api_client(api, token) as client:
            page = request(client, "GET", f"/v1/jobs/{job_id}/worklist", params={"limit": limit})
        if json_out:
            print_json(page)
            return
        rows = [
            {**s, "study": study["study_uid"][:20], "series": s["series_uid"][:20], "probability": s["max_probability"]}
            for study in page["items"]
            for s in study["series"]
        ]
        cols = ["study", "series", "priority", "probability", "modality", "body_part", "instances", "reasons"]
        console.print(rows_table(rows, cols, title=f"{page['total_studies']} studies") if rows else "empty worklist")

    @app.command()
    def cancel(
        job_id: str,
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Cancel a job: no further shards run."""
        with api_client(api, token) as client:
            job = request(client, "POST", f"/v1/jobs/{job_id}/cancel")
        print_json(job) if json_out else console.print(f"job {job['id']} is {job['status']}")
