"""Literature commands of the client: the job's chemical-disease pairs, annotation exports, and screening the
chemicals a literature job found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cli.client import JSON_OPT, TOKEN_OPT, URL_OPT, api_client, download, request
from cli.params import HELP as PARAMS_HELP
from cli.params import params_text
from cli.render import console, print_json, rows_table

# Export format by file suffix: what a curator types most often.
SUFFIX_FORMATS = {".json": "bioc-json", ".txt": "pubtator", ".pubtator": "pubtator", ".csv": "entities-csv"}


def register(app: typer.Typer) -> None:
    @app.command()
    def pairs(
        job_id: str,
        min_documents: int = typer.Option(1, "--min-documents", min=1),
        limit: int = typer.Option(50, "--limit", min=1, max=5000),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Literature: chemical-induced-disease pairs over the job, most-supported first."""
        with api_client(api, token) as client:
            page = request(
                client, "GET", f"/v1/jobs/{job_id}/pairs", params={"min_documents": min_documents, "limit": limit}
            )
        if json_out:
            print_json(page)
            return
        rows = [
            {**p, "doc_ids": ",".join(p["doc_ids"][:5]) + ("..." if len(p["doc_ids"]) > 5 else "")}
            for p in page["items"]
        ]
        cols = ["chemical_name", "chemical_id", "disease_name", "disease_id", "documents", "max_score", "doc_ids"]
        console.print(rows_table(rows, cols, title=f"{page['total']} pairs") if rows else "no pairs")

    @app.command()
    def annotations(
        job_id: str,
        output: Path = typer.Option(..., "--output", "-o", help="File to write (.json, .txt/.pubtator, .csv)."),
        fmt: str | None = typer.Option(
            None, "--format", help="bioc-json, pubtator, entities-csv or pairs-csv (default: from the suffix)."
        ),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Literature: export every document's entities and relations (BioC-JSON, PubTator, CSV)."""
        chosen = fmt or SUFFIX_FORMATS.get(output.suffix.lower(), "bioc-json")
        with api_client(api, token) as client:
            download(client, f"/v1/jobs/{job_id}/annotations", {"format": chosen}, output, json_out)

    @app.command("screen-chemicals")
    def screen_chemicals(
        job_id: str,
        params: str | None = typer.Option(None, "--params", help=PARAMS_HELP),
        min_documents: int = typer.Option(1, "--min-documents", min=1),
        name: str | None = typer.Option(None, "--name"),
        api: str | None = URL_OPT,
        token: str | None = TOKEN_OPT,
        json_out: bool = JSON_OPT,
    ) -> None:
        """Literature: start a screening job on the job's chemicals that have a known structure."""
        body: dict[str, Any] = {"min_documents": min_documents}
        if params:
            body["parameters"] = json.loads(params_text(params))
        if name:
            body["name"] = name
        with api_client(api, token) as client:
            job = request(client, "POST", f"/v1/jobs/{job_id}/screening-job", json=body)
        if json_out:
            print_json(job)
            return
        console.print(f"screening job {job['id']} is {job['status']}; follow it with `medsieve status {job['id']}`")
