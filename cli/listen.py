"""`medsieve dicom-listen`: the C-STORE listener, a bridge from DICOM networking to the job API."""

from __future__ import annotations

import json
import time

import typer

from cli.render import console, fail


def register(app: typer.Typer) -> None:
    @app.command("dicom-listen")
    def dicom_listen(
        port: int = typer.Option(11112, "--port", help="DICOM port to listen on."),
        host: str = typer.Option("0.0.0.0", "--host"),
        ae_title: str = typer.Option("MEDSIEVE", "--ae-title"),
        stable_s: float = typer.Option(30.0, "--stable-s", help="Submit a study this long after its last instance."),
        params: str = typer.Option("{}", "--params", "-p", help="Triage job parameters as JSON."),
        api: str | None = typer.Option(None, "--api", help="API base URL (default MEDSIEVE_API_URL)."),
        token: str | None = typer.Option(None, "--token", help="API token (default MEDSIEVE_API_TOKEN)."),
    ) -> None:
        """Receive studies over DICOM C-STORE and submit each, once stable, as a triage job."""
        from cli.client import api_client
        from core.settings import get_settings
        from workers.triage.keys import server_secret
        from workers.triage.scp import StudySpool, Submitter, start_listener

        try:
            json.loads(params)
        except ValueError as exc:
            fail(f"--params is not valid JSON: {exc}")
        settings = get_settings()
        spool = StudySpool(settings.data_dir.resolve() / "cstore-spool", server_secret(), stable_s)
        with api_client(api, token) as client:
            submitter = Submitter(spool, client, params)
            server = start_listener(spool, host, port, ae_title)
            console.print(f"listening for C-STORE as {ae_title} on {host}:{port}; studies go out after {stable_s} s")
            try:
                while True:
                    before = len(submitter.submitted)
                    submitter.flush()
                    for job_id in submitter.submitted[before:]:
                        console.print(f"submitted study as job [bold]{job_id}[/]")
                    time.sleep(1.0)
            except KeyboardInterrupt:
                pass
            finally:
                server.shutdown()
