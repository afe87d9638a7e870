"""Screening transport: top hits, structure drawings and SDF exports (written by a worker, then downloaded)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from api.auth import CredentialsDep
from api.deps import authorized
from api.routes import API_PREFIX
from api.routes.jobs import NOT_FOUND
from api.routes.results import FilterQuery
from api.schemas import ExportOut, ExportRequest, HitsPage
from api.services import jobs as jobs_service
from api.services import screening as screening_service
from api.services.projects import Principal
from workers.dispatch import publish_screening_export

router = APIRouter(prefix=API_PREFIX)


@router.get("/jobs/{job_id}/hits", response_model=HitsPage, responses=NOT_FOUND, summary="Top-k screening hits")
async def get_hits(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    k: Annotated[int, Query(ge=1, le=screening_service.MAX_HITS)] = 50,
    filters: FilterQuery = None,
) -> HitsPage:
    def work(session: Session, who: Principal) -> HitsPage:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return screening_service.hits(session, job, k, filters or [])

    return await authorized(request, credentials, work)


@router.get(
    "/jobs/{job_id}/structures/{item_index}.svg",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"image/svg+xml": {}}}},
    summary="2D drawing (RDKit SVG) of one of a screening job's top hits",
)
async def get_structure(
    job_id: uuid.UUID, item_index: Annotated[int, Path(ge=0)], request: Request, credentials: CredentialsDep
) -> Response:
    def work(session: Session, who: Principal) -> str:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return screening_service.structure_svg(session, job, item_index)

    svg = await authorized(request, credentials, work)
    # The SVG is RDKit's output from a canonical SMILES (no user text), served with a CSP that forbids scripts.
    headers = {"Cache-Control": "private, max-age=86400, immutable", "Content-Security-Policy": "default-src 'none'"}
    return Response(svg, media_type="image/svg+xml", headers=headers)


@router.post(
    "/jobs/{job_id}/exports",
    status_code=202,
    response_model=ExportOut,
    responses=NOT_FOUND,
    summary="Start an SDF export of a finished screening job (poll it, then download the file)",
)
async def create_export(
    job_id: uuid.UUID,
    body: ExportRequest,
    request: Request,
    background: BackgroundTasks,
    credentials: CredentialsDep,
) -> ExportOut:
    def work(session: Session, who: Principal) -> ExportOut:
        job = jobs_service.get_job(session, who.project_id, job_id)
        export = screening_service.request_export(
            session,
            job,
            fmt=body.format,
            sort=body.sort,
            filters=body.filters,
            limit=body.limit,
            token_id=who.token_id,
        )
        return screening_service.export_out(job, export)

    out = await authorized(request, credentials, work)
    # Published after the row committed; a lost message is published again by the next poll of the export.
    background.add_task(_publish, out.id)
    return out


@router.get("/jobs/{job_id}/exports/{export_id}", response_model=ExportOut, responses=NOT_FOUND)
async def get_export(
    job_id: uuid.UUID, export_id: uuid.UUID, request: Request, background: BackgroundTasks, credentials: CredentialsDep
) -> ExportOut:
    def work(session: Session, who: Principal) -> tuple[ExportOut, bool]:
        job = jobs_service.get_job(session, who.project_id, job_id)
        export = screening_service.get_export(session, job, export_id)
        return screening_service.export_out(job, export), screening_service.needs_republish(export)

    out, republish = await authorized(request, credentials, work)
    if republish:
        background.add_task(_publish, out.id)
    return out


@router.get(
    "/jobs/{job_id}/exports/{export_id}/file",
    response_class=FileResponse,
    responses={**NOT_FOUND, 200: {"content": {"chemical/x-mdl-sdfile": {}}}},
)
async def download_export(
    job_id: uuid.UUID, export_id: uuid.UUID, request: Request, credentials: CredentialsDep
) -> FileResponse:
    def work(session: Session, who: Principal) -> str:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return str(screening_service.export_file(screening_service.get_export(session, job, export_id)))

    path = await authorized(request, credentials, work)
    return FileResponse(
        path,
        media_type="chemical/x-mdl-sdfile",
        filename=f"medsieve-{job_id}-results.sdf",
        content_disposition_type="attachment",
    )


def _publish(export_id: uuid.UUID) -> None:
    try:
        publish_screening_export(export_id)
    except Exception:  # the broker is down: the next poll of the export publishes it again
        return
