"""The client commands against a live API (uvicorn in a thread, the real app on PostgreSQL, the embedded worker
in process): exit codes per kind of failure, --json output for scripts, waits with progress and timeouts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.processes import free_port
from cli.main import app
from cli.render import EXIT_AUTH, EXIT_JOB_FAILED, EXIT_NOT_FOUND, EXIT_SERVER, EXIT_TIMEOUT, EXIT_USAGE
from tests.api.conftest import make_token
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.postgres

runner = CliRunner()


@pytest.fixture()
def live_api(pg_url: str, configure_env: Callable[..., Path]) -> Iterator[str]:
    import uvicorn

    configure_env(database_url=pg_url, broker_url="")
    from api.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def cli(url: str, token: str, *args: str) -> Any:
    return runner.invoke(app, [*args, "--api", url, "--token", token])


def as_json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_exit_codes_name_the_kind_of_failure(live_api: str) -> None:
    token = make_token(f"cli-{uuid.uuid4().hex[:8]}")
    missing = str(uuid.uuid4())
    assert cli(live_api, token, "status", missing).exit_code == EXIT_NOT_FOUND
    assert cli(live_api, "ms_" + "x" * 43, "jobs").exit_code == EXIT_AUTH
    assert cli(f"http://127.0.0.1:{free_port()}", token, "jobs").exit_code == EXIT_SERVER
    bad_params = cli(live_api, token, "submit", str(REPO_ROOT / "examples" / "library.smi"), "-p", "{nope")
    assert bad_params.exit_code == EXIT_USAGE and "--params is not valid JSON" in bad_params.stderr
    refused = cli(live_api, token, "submit", str(REPO_ROOT / "examples" / "library.smi"), "-d", "astrology")
    assert refused.exit_code == EXIT_USAGE and "UNKNOWN_DOMAIN" in refused.stderr
    no_token = runner.invoke(app, ["jobs", "--api", live_api], env={"MEDSIEVE_API_TOKEN": ""})
    assert no_token.exit_code == EXIT_AUTH and "medsieve token create" in no_token.stderr


def test_json_output_and_waits(live_api: str, tmp_path: Path) -> None:
    token = make_token(f"cli-{uuid.uuid4().hex[:8]}")
    smi = tmp_path / "two.smi"
    smi.write_text("CCO ethanol\nc1ccccc1 benzene\n")
    job = as_json(cli(live_api, token, "submit", str(smi), "--name", "two", "--json"))
    assert job["status"] == "queued" and job["name"] == "two"  # no worker here: it stays queued
    listed = as_json(cli(live_api, token, "jobs", "--json"))
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    table = cli(live_api, token, "jobs")
    assert table.exit_code == 0 and "two" in table.stdout and "queued" in table.stdout

    waited = cli(live_api, token, "status", job["id"], "--wait", "--timeout", "1")
    assert waited.exit_code == EXIT_TIMEOUT and "the job goes on" in waited.stderr
    assert as_json(cli(live_api, token, "cancel", job["id"], "--json"))["status"] == "cancelled"
    final = cli(live_api, token, "status", job["id"], "--wait", "--json")
    assert final.exit_code == EXIT_JOB_FAILED and json.loads(final.stdout)["status"] == "cancelled"
    again = cli(live_api, token, "cancel", job["id"])
    assert again.exit_code == EXIT_USAGE and "already cancelled" in again.stderr
    assert cli(live_api, token, "results", job["id"], "--sort", "-nope").exit_code == EXIT_USAGE
    assert as_json(cli(live_api, token, "errors", job["id"], "--json"))["items"] == []
    assert as_json(cli(live_api, token, "provenance", job["id"], "--json"))["items"] == []


def test_submit_wait_runs_to_the_end_with_a_progress_bar(live_api: str, tmp_path: Path) -> None:
    from workers.embedded import EmbeddedWorker

    token = make_token(f"cli-{uuid.uuid4().hex[:8]}")
    params = json.dumps({"admet": False})
    library = str(REPO_ROOT / "examples" / "library.smi")
    with EmbeddedWorker():
        result = cli(live_api, token, "submit", library, "-p", params, "--wait")
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.stdout and "323 ok, 3 errors" in result.stdout
    job_id = result.stdout.split("job", 1)[1].split()[0]
    top = cli(live_api, token, "results", job_id, "--top", "3")
    assert top.exit_code == 0 and "top 3 by -score" in top.stdout
    out = tmp_path / "all.csv"
    exported = as_json(cli(live_api, token, "results", job_id, "-o", str(out), "--json"))
    assert exported["bytes"] == out.stat().st_size and len(out.read_text().splitlines()) == 324
    errors = cli(live_api, token, "errors", job_id, "--code", "SANITIZE_ERROR", "--json")
    assert {e["code"] for e in as_json(errors)["items"]} == {"SANITIZE_ERROR"}


def test_token_create_json(configure_env: Callable[..., Path], pg_url: str) -> None:
    configure_env(database_url=pg_url)
    made = runner.invoke(app, ["token", "create", "--project", f"cli-{uuid.uuid4().hex[:8]}", "--json"])
    body = as_json(made)
    assert body["token"].startswith("ms_") and body["name"] == "cli"
