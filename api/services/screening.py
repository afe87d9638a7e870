"""Screening-only reads and the SDF export request. The API never imports RDKit: drawings were made by the
worker at job end, and SDF files are written by a worker task."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from api.schemas import ExportOut, HitsPage
from api.services.results import jsonable, parse_filters, parse_sort, results_page
from core.artifacts import artifact_path
from core.enums import AuditAction, JobStatus
from core.errors import Conflict, InvalidInput, NotFound
from core.settings import get_settings
from db.base import utcnow
from db.models import Job
from db.models.screening import ScreeningExport
from db.repositories import audit
from db.repositories import screening as screening_repo
from workers.domains import get_plugin

MAX_HITS = 1000
EXPORT_FORMATS = ("sdf",)
REPUBLISH_AFTER = timedelta(seconds=30)  # a queued export whose message may have been lost is published again


def require_screening(job: Job) -> None:
    if job.domain != "screening":
        raise NotFound(f"job {job.id} is not a screening job")


def hits(session: Session, job: Job, k: int, filters: Sequence[str]) -> HitsPage:
    """The top k compounds by composite score, ranked 1..k, each with a link to its drawing (top hits only)."""
    require_screening(job)
    page = results_page(session, job, sort="-score", filters=filters, cursor=None, limit=k)
    drawn = get_settings().screening_depict_top
    items = []
    for rank, row in enumerate(page.items, start=1):
        structure = f"/v1/jobs/{job.id}/structures/{row['item_index']}.svg" if rank <= drawn else None
        items.append({"rank": rank, **row, "structure_url": structure})
    return HitsPage(job_id=job.id, status=job.status, k=k, items=items)


def structure_svg(session: Session, job: Job, item_index: int) -> str:
    require_screening(job)
    svg = screening_repo.depiction(session, job.id, item_index)
    if svg is None:
        raise NotFound(f"no drawing for item {item_index} of job {job.id} (drawings are made for the top hits)")
    return svg


def request_export(
    session: Session,
    job: Job,
    *,
    fmt: str,
    sort: str | None,
    filters: Sequence[str],
    limit: int | None,
    token_id: int | None,
) -> ScreeningExport:
    require_screening(job)
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}", details={"formats": list(EXPORT_FORMATS)})
    if job.status != JobStatus.succeeded.value:
        raise Conflict(f"job {job.id} is {job.status}; exports are made from finished jobs")
    plugin = get_plugin(job.domain)
    order = parse_sort(plugin, sort)
    where = parse_filters(plugin, filters)
    options: dict[str, Any] = {
        "sort": asdict(order),
        "filters": [{**asdict(f), "value": jsonable(f.value)} for f in where],
        "limit": limit,
    }
    export = screening_repo.add_export(session, job.id, fmt, options)
    audit.record(
        session,
        AuditAction.job_export.value,
        project_id=job.project_id,
        token_id=token_id,
        target=f"job:{job.id}",
        details={"format": fmt, "sort": sort, "filters": list(filters), "limit": limit, "export": str(export.id)},
    )
    return export


def export_out(job: Job, export: ScreeningExport) -> ExportOut:
    out = ExportOut.model_validate(export, from_attributes=True)
    if export.status == "succeeded":
        out.download_url = f"/v1/jobs/{job.id}/exports/{export.id}/file"
    return out


def get_export(session: Session, job: Job, export_id: uuid.UUID) -> ScreeningExport:
    export = screening_repo.get_export(session, job.id, export_id)
    if export is None:
        raise NotFound(f"export {export_id} not found")
    return export


def needs_republish(export: ScreeningExport) -> bool:
    return export.status == "queued" and utcnow() - export.created_at > REPUBLISH_AFTER


def export_file(export: ScreeningExport) -> Path:
    if export.status != "succeeded" or export.sha256 is None:
        raise Conflict(f"export {export.id} is {export.status}")
    path = artifact_path(get_settings().resolved_artifact_dir, export.sha256)
    if not path.is_file():
        raise NotFound(f"the file of export {export.id} is gone")
    return path
