"""`medsieve` entry point. Heavy imports stay inside the commands so `--help` is instant."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import typer

from cli import client, listen, literature, literature_models, models
from cli.params import HELP as PARAMS_HELP
from cli.render import console, fail, print_json

app = typer.Typer(add_completion=False, no_args_is_help=True, help="medsieve: asynchronous bulk biomedical screening.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(models.app, name="models")
# The literature model commands (train-ner, eval-ner, eval-literature) join the same `models` group.
literature_models.register(models.app)
client.register(app)
literature.register(app)
listen.register(app)


def _setup_logging() -> None:
    from core.logging import configure_logging
    from core.settings import get_settings

    s = get_settings()
    configure_logging(s.log_level, s.json_logs)


@app.command()
def run(
    file: Path = typer.Argument(
        ..., exists=True, readable=True, help="Input library, documents or scans; a folder is sent as a zip."
    ),
    domain: str = typer.Option("screening", "--domain", "-d"),
    params: str = typer.Option("{}", "--params", "-p", help=PARAMS_HELP),
    top: int = typer.Option(15, "--top", help="Rows of the ranked summary to print."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Export file (.csv or .parquet)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary instead of tables."),
) -> None:
    """Run a job on this machine (embedded worker, no servers needed) and wait for ranked results."""
    from cli.embedded_run import run_embedded

    _setup_logging()
    raise typer.Exit(run_embedded(file, domain, params, top, output, json_out))


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default from MEDSIEVE_API_HOST)."),
    port: int | None = typer.Option(None, help="Port (default from MEDSIEVE_API_PORT)."),
    workers_in_process: bool = typer.Option(
        True, help="In embedded mode (no broker configured), run a worker inside the API process."
    ),
    processes: int = typer.Option(
        1, "--processes", min=1, help="API server processes (full stack only; the rate limit is per process)."
    ),
) -> None:
    """Run the job API. Without a configured broker it also runs the embedded worker."""
    import uvicorn

    from api.app import create_app
    from core.settings import get_settings

    _setup_logging()
    settings = get_settings()
    embedded = None
    if settings.embedded:
        from db.migrate import upgrade

        upgrade()  # the embedded SQLite database is created and kept current automatically
        if workers_in_process:
            from workers.embedded import EmbeddedWorker

            embedded = EmbeddedWorker().start()
            console.print("[dim]embedded mode: SQLite database and an in-process worker[/]")
    # log_config=None: uvicorn's loggers propagate to ours, so its lines follow MEDSIEVE_LOG_FORMAT too.
    bind = {
        "host": host or settings.api_host,
        "port": port or settings.api_port,
        "log_level": "warning",
        "log_config": None,
    }
    if processes > 1 and settings.embedded:
        fail("--processes needs the full stack: the embedded worker lives inside a single API process")
    shown_host = "127.0.0.1" if bind["host"] in ("0.0.0.0", "::") else bind["host"]
    console.print(f"dashboard: http://{shown_host}:{bind['port']}/ui (sign in with a `medsieve token create` token)")
    try:
        if processes > 1:
            uvicorn.run("api.app:create_app", factory=True, workers=processes, **bind)  # type: ignore[arg-type]
        else:
            uvicorn.run(create_app(), **bind)  # type: ignore[arg-type]
    finally:
        if embedded is not None:
            embedded.stop()


@app.command()
def worker(
    queues: str = typer.Option("screening.cpu", "--queues", "-Q", help="Comma-separated queues, e.g. screening.cpu"),
    concurrency: int = typer.Option(os.cpu_count() or 1, "--concurrency", "-c"),
    pool: str = typer.Option("prefork", help="Celery pool: prefork, solo or threads."),
    sweeper: bool = typer.Option(True, help="Also run the sweeper (outbox relay and safety net) in this process."),
    hostname: str = typer.Option(f"medsieve@{socket.gethostname()}", "--hostname", "-n"),
) -> None:
    """Run a Celery worker on the configured broker (MEDSIEVE_BROKER_URL)."""
    from core.settings import get_settings
    from workers.celery_app import all_queue_names
    from workers.main import run_worker

    _setup_logging()
    settings = get_settings()
    if settings.embedded:
        fail("no broker configured: set MEDSIEVE_BROKER_URL (e.g. amqp://guest:guest@127.0.0.1:5672//)")
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = sorted(set(wanted) - set(all_queue_names()))
    if unknown:
        fail(f"unknown queues {unknown}; known: {all_queue_names()}")
    run_worker(wanted, concurrency, pool, settings.log_level, sweeper, hostname)


@app.command("sweeper")
def sweeper_cmd(once: bool = typer.Option(False, help="One pass, then exit.")) -> None:
    """Run the sweeper alone (publishes unsent jobs/shards, re-dispatches lost or abandoned shards)."""
    from workers.services.sweeper import SweeperThread, sweep_once

    _setup_logging()
    if once:
        console.print(sweep_once())
        return
    thread = SweeperThread()
    thread.start()
    thread.join()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations to the configured database (SQLite in the data dir by default)."""
    from core.settings import get_settings
    from db.migrate import upgrade

    upgrade(revision=revision)
    console.print(f"database at {_redact(get_settings().resolved_database_url)} is at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(...)) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    from db.migrate import downgrade

    downgrade(revision=revision)


@token_app.command("create")
def token_create(
    project: str = typer.Option(..., "--project", help="Project name (created if absent)."),
    name: str = typer.Option("cli", "--name", help="A label for the token."),
    json_out: bool = typer.Option(False, "--json", help="Print {project, name, token} as JSON."),
) -> None:
    """Create an API token for a project; the secret is shown once (also the dashboard's sign-in)."""
    from api.services.projects import create_token
    from core.errors import MedsieveError
    from db.session import unit_of_work

    try:
        with unit_of_work() as session:
            secret = create_token(session, project, name)
    except MedsieveError as exc:
        fail(f"{exc.code}: {exc.message}")
    if json_out:
        print_json({"project": project, "name": name, "token": secret})
    else:
        typer.echo(secret)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    app()


if __name__ == "__main__":
    main()
