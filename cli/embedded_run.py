"""`medsieve run FILE`: the one-command default. Submits through the same service the API uses, runs a real
Celery worker in this process on the in-memory transport, shows progress, then the ranked top and the export."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from cli.folders import as_upload
from cli.params import params_text
from cli.render import EXIT_JOB_FAILED, console, err_console, fail, print_json, rows_table, wait_with_progress

LOCAL_PROJECT = "local"
# The summary table's columns per domain (worth a glance in a terminal); the export holds every column.
_SUMMARY_COLUMNS = {
    "literature": (
        "doc_id",
        "chemical_count",
        "disease_count",
        "gene_count",
        "relation_count",
        "unmatched_count",
        "score",
    ),
    "screening": ("item_key", "canonical_smiles", "score", "qed", "similarity", "activity", "alert_count", "mw"),
    "triage": ("item_index", "modality", "body_part", "view_position", "priority", "probability", "quality_flags"),
}


def run_embedded(file: Path, domain: str, params_json: str, top: int, output: Path | None, json_out: bool) -> int:
    from core.artifacts import store_chunks
    from core.errors import MedsieveError
    from core.settings import get_settings
    from db.migrate import upgrade
    from workers.celery_app import reset_app

    settings = get_settings()
    if settings.broker_url:
        err_console.print("[dim]`run` uses an in-process worker; MEDSIEVE_BROKER_URL is ignored here[/]")
        settings.broker_url = ""
        reset_app()
    params = json.loads(params_text(params_json))

    upgrade()
    with as_upload(file) as upload, upload.open("rb") as fh:
        artifact = store_chunks(
            settings.resolved_artifact_dir, iter(lambda: fh.read(1 << 20), b""), settings.max_upload_bytes
        )
        upload_name = upload.name
    try:
        job_id = submit_local(domain, params, artifact, upload_name, settings.default_device)
    except MedsieveError as exc:
        fail(f"{exc.code}: {exc.message}")

    from workers.embedded import EmbeddedWorker

    with EmbeddedWorker():
        from api.services.dispatching import dispatch_ingest

        dispatch_ingest(job_id, domain)
        job = wait_with_progress(lambda: _job_view(job_id), interval=0.2, quiet=json_out)

    out_path = output or settings.data_dir / "exports" / f"{job_id}.csv"
    top_rows = _top_rows(job_id, domain, top)
    if job["status"] == "succeeded":
        _export(job_id, out_path)
    errors = _error_summary(job_id)
    pairs = _top_pairs(job_id, top) if domain == "literature" and job["status"] == "succeeded" else None
    if json_out:
        extra = {} if pairs is None else {"pairs": pairs}
        print_json({"job": job, "top": top_rows, **extra, "errors_by_code": errors, "export": str(out_path)})
    else:
        _print_summary(job, top_rows, errors, out_path)
        if pairs:
            cols = ["chemical_name", "chemical_id", "disease_name", "disease_id", "documents", "max_score"]
            console.print(rows_table(pairs, cols, title=f"top {len(pairs)} chemical-induced-disease pairs"))
    return 0 if job["status"] == "succeeded" else EXIT_JOB_FAILED


def submit_local(
    domain: str, params: dict[str, Any], artifact: Any, filename: str, device: str, project_name: str = LOCAL_PROJECT
) -> uuid.UUID:
    """Submit a stored artifact through the same service as the API, without HTTP (embedded runs, tests)."""
    from api.services.submission import submit_job
    from db.repositories.projects import get_or_create
    from db.session import unit_of_work
    from workers.domains import get_plugin

    plugin = get_plugin(domain)
    model = plugin.params_model.model_validate(params)
    fmt = plugin.detect_format(filename, artifact.head, model)
    with unit_of_work() as session:
        project, _ = get_or_create(session, project_name)
        outcome = submit_job(
            session,
            project_id=project.id,
            domain=domain,
            parameters=params,
            artifact=artifact,
            input_format=fmt,
            filename=filename,
            idempotency_key=None,
            name=None if plugin.identifiable_input else filename,
            priority=0,
            device=device,
            token_id=None,
        )
        return outcome.job.id


def _job_view(job_id: uuid.UUID) -> dict[str, Any]:
    from api.services.jobs import detail
    from db.models import Job
    from db.session import unit_of_work

    with unit_of_work() as session:
        job = session.get(Job, job_id)
        assert job is not None
        view = detail(session, job).model_dump(mode="json")
        if job.started_at is not None:
            from db.base import utcnow

            view["elapsed_s"] = ((job.finished_at or utcnow()) - job.started_at).total_seconds()
        return view


def _top_rows(job_id: uuid.UUID, domain: str, top: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from db.session import unit_of_work
    from workers.domains import get_plugin

    plugin = get_plugin(domain)
    model: Any = plugin.result_model
    with unit_of_work() as session:
        rows = session.execute(
            select(model).where(model.job_id == job_id).order_by(model.score.desc(), model.item_index).limit(top)
        ).scalars()
        return [{c: getattr(r, c) for c in plugin.export_columns} for r in rows]


def _error_summary(job_id: uuid.UUID) -> dict[str, int]:
    from sqlalchemy import func, select

    from db.models import ItemError
    from db.session import unit_of_work

    with unit_of_work() as session:
        rows = session.execute(
            select(ItemError.code, func.count()).where(ItemError.job_id == job_id).group_by(ItemError.code)
        ).all()
        return {str(code): int(n) for code, n in rows}


def _export(job_id: uuid.UUID, path: Path) -> None:
    from api.services.exporting import chunks, plan_export
    from db.models import Job
    from db.session import unit_of_work

    fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
    with unit_of_work() as session:
        job = session.get(Job, job_id)
        assert job is not None
        plan = plan_export(session, job, fmt=fmt, sort=None, filters=[], token_id=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for chunk in chunks(plan):
            fh.write(chunk)


def _top_pairs(job_id: uuid.UUID, top: int) -> list[dict[str, Any]]:
    """Literature: the job's most supported chemical -> disease pairs (aggregated by the worker at job end)."""
    from api.services.literature import pair_dict
    from db.repositories import literature as literature_repo
    from db.session import unit_of_work

    with unit_of_work() as session:
        _, rows = literature_repo.list_pairs(session, job_id, min_documents=1, limit=top, offset=0)
        return [pair_dict(p) for p in rows]


def _print_summary(job: dict[str, Any], top_rows: list[dict[str, Any]], errors: dict[str, int], out: Path) -> None:
    c = job["counts"]
    console.print(
        f"\njob [bold]{job['id']}[/] {job['status']}: {c['items_succeeded']} results, {c['items_failed']} item errors"
        f" in {job.get('elapsed_s') or 0:.1f} s ({job.get('throughput_items_per_s') or 0:,.0f} items/s)"
    )
    if job.get("error_message"):
        console.print(f"[red]{job['error_code']}: {job['error_message']}[/]")
    if top_rows:
        ranked = [{"rank": i + 1, **row} for i, row in enumerate(top_rows)]
        wanted = _SUMMARY_COLUMNS.get(job["domain"], tuple(top_rows[0])[:7])
        # Columns a job did not compute (no references, no activity model) stay out of the table.
        cols = ["rank", *[c for c in wanted if any(r.get(c) is not None for r in top_rows)]]
        console.print(rows_table(ranked, cols, title=f"top {len(top_rows)} by score"))
    if errors:
        console.print("item errors by code: " + ", ".join(f"{k}={v}" for k, v in sorted(errors.items())))
    if job["status"] == "succeeded":
        console.print(f"exported all results to [bold]{out}[/]")
