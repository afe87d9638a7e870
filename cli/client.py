"""Client commands: talk to a running API (MEDSIEVE_API_URL, MEDSIEVE_API_TOKEN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer

from cli.folders import as_upload
from cli.render import (
    EXIT_AUTH,
    EXIT_JOB_FAILED,
    EXIT_SERVER,
    EXIT_USAGE,
    console,
    fail,
    job_table,
    print_json,
    rows_table,
    wait_with_progress,
)

_TOKEN_OPT = typer.Option(None, "--token", help="API token (default MEDSIEVE_API_TOKEN).")
_URL_OPT = typer.Option(None, "--api", help="API base URL (default MEDSIEVE_API_URL or http://127.0.0.1:8000).")
_JSON_OPT = typer.Option(False, "--json", help="Machine-readable output.")


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


def _check(resp: httpx.Response) -> Any:
    if resp.status_code < 400:
        return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp
    try:
        err = resp.json().get("error", {})
        message = f"{err.get('code', resp.status_code)}: {err.get('message', resp.text)}"
    except ValueError:
        message = f"HTTP {resp.status_code}: {resp.text[:200]}"
    code = EXIT_AUTH if resp.status_code in (401, 403, 404) else EXIT_SERVER if resp.status_code >= 500 else EXIT_USAGE
    fail(message, code)


def _request(client: httpx.Client, method: str, url: str, **kw: Any) -> Any:
    try:
        return _check(client.request(method, url, **kw))
    except httpx.TransportError as exc:
        fail(f"cannot reach the API at {client.base_url}: {exc}", EXIT_SERVER)


def register(app: typer.Typer) -> None:
    @app.command()
    def submit(
        file: Path = typer.Argument(..., exists=True, readable=True, help="A file, or a folder (sent as a zip)."),
        domain: str = typer.Option("screening", "--domain", "-d"),
        params: str = typer.Option("{}", "--params", "-p", help="Job parameters as JSON."),
        name: str | None = typer.Option(None, "--name"),
        device: str | None = typer.Option(None, "--device", help="cpu or gpu"),
        idempotency_key: str | None = typer.Option(None, "--idempotency-key"),
        wait: bool = typer.Option(False, "--wait", help="Wait with a progress bar until the job ends."),
        api: str | None = _URL_OPT,
        token: str | None = _TOKEN_OPT,
        json_out: bool = _JSON_OPT,
    ) -> None:
        """Upload FILE as a new job."""
        try:
            json.loads(params)
        except ValueError as exc:
            fail(f"--params is not valid JSON: {exc}")
        data = {"domain": domain, "parameters": params}
        if name:
            data["name"] = name
        if device:
            data["device"] = device
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        with api_client(api, token) as client, as_upload(file) as upload, upload.open("rb") as fh:
            job = _request(client, "POST", "/v1/jobs", data=data, files={"file": (upload.name, fh)}, headers=headers)
            if not wait:
                print_json(job) if json_out else console.print(f"submitted job [bold]{job['id']}[/] ({job['status']})")
                return
            final = wait_with_progress(lambda: _request(client, "GET", f"/v1/jobs/{job['id']}"), quiet=json_out)
        print_json(final) if json_out else console.print(job_table(final))
        raise typer.Exit(0 if final["status"] == "succeeded" else EXIT_JOB_FAILED)

    @app.command()
    def status(
        job_id: str,
        wait: bool = typer.Option(False, "--wait"),
        api: str | None = _URL_OPT,
        token: str | None = _TOKEN_OPT,
        json_out: bool = _JSON_OPT,
    ) -> None:
        """Show a job's state, counts, throughput and ETA."""
        with api_client(api, token) as client:
            if wait:
                job = wait_with_progress(lambda: _request(client, "GET", f"/v1/jobs/{job_id}"), quiet=json_out)
            else:
                job = _request(client, "GET", f"/v1/jobs/{job_id}")
        print_json(job) if json_out else console.print(job_table(job))

    @app.command("jobs")
    def list_jobs(
        status_filter: str | None = typer.Option(None, "--status"),
        limit: int = typer.Option(20, "--limit"),
        api: str | None = _URL_OPT,
        token: str | None = _TOKEN_OPT,
        json_out: bool = _JSON_OPT,
    ) -> None:
        """List recent jobs."""
        query: dict[str, Any] = {"limit": limit}
        if status_filter:
            query["status"] = status_filter
        with api_client(api, token) as client:
            page = _request(client, "GET", "/v1/jobs", params=query)
        if json_out:
            print_json(page)
            return
        rows = [{**j, **(j.get("counts") or {})} for j in page["items"]]
        console.print(rows_table(rows, ["id", "domain", "status", "items_succeeded", "items_failed", "created_at"]))

    @app.command()
    def results(
        job_id: str,
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the full export (.csv or .parquet)."),
        top: int = typer.Option(20, "--top", help="Without -o: rows to print."),
        sort: str | None = typer.Option(None, "--sort"),
        api: str | None = _URL_OPT,
        token: str | None = _TOKEN_OPT,
        json_out: bool = _JSON_OPT,
    ) -> None:
        """Print the top results, or export all of them with -o."""
        with api_client(api, token) as client:
            if output is None:
                query: dict[str, Any] = {"limit": top}
                if sort:
                    query["sort"] = sort
                page = _request(client, "GET", f"/v1/jobs/{job_id}/results", params=query)
                if json_out:
                    print_json(page)
                elif page["items"]:
                    cols = [c for c in page["items"][0] if c not in ("job_id", "shard_id", "id")]
                    console.print(rows_table(page["items"], cols[:10]))
                else:
                    console.print("no results")
                return
            fmt = "parquet" if output.suffix.lower() == ".parquet" else "csv"
            query = {"format": fmt, **({"sort": sort} if sort else {})}
            try:
                with client.stream("GET", f"/v1/jobs/{job_id}/export", params=query) as resp:
                    if resp.status_code >= 400:
                        resp.read()
                        _check(resp)
                    with output.open("wb") as fh:
                        for chunk in resp.iter_bytes():
                            fh.write(chunk)
            except httpx.TransportError as exc:
                fail(f"cannot reach the API: {exc}", EXIT_SERVER)
        print_json({"output": str(output)}) if json_out else console.print(f"wrote {output}")

    @app.command()
    def errors(
        job_id: str,
        limit: int = typer.Option(50, "--limit"),
        api: str | None = _URL_OPT,
        token: str | None = _TOKEN_OPT,
        json_out: bool = _JSON_OPT,
    ) -> None:
        """List per-item errors of a job."""
        with api_client(api, token) as client:
            page = _request(client, "GET", f"/v1/jobs/{job_id}/errors", params={"limit": limit})
        if json_out:
            print_json(page)
        else:
            console.print(rows_table(page["items"], ["item_index", "item_key", "code", "message"]))

    @app.command()
    def cancel(
        job_id: str,
        api: str | None = _URL_OPT,
        token: str | None = _TOKEN_OPT,
        json_out: bool = _JSON_OPT,
    ) -> None:
        """Cancel a job: no further shards run."""
        with api_client(api, token) as client:
            job = _request(client, "POST", f"/v1/jobs/{job_id}/cancel")
        print_json(job) if json_out else console.print(f"job {job['id']} is {job['status']}")
