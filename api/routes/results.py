"""A job's results, export, item errors and provenance."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.auth import CredentialsDep
from api.deps import authorized
from api.routes import API_PREFIX
from api.routes.jobs import NOT_FOUND
from api.schemas import ErrorsPage, ProvenancePage, ResultsPage
from api.services import exporting
from api.services import jobs as jobs_service
from api.services import results as results_service
from api.services.projects import Principal

router = APIRouter(prefix=API_PREFIX)

SortQuery = Annotated[str | None, Query(max_length=64, description="A sortable column; '-' prefix for descending")]
FilterQuery = Annotated[
    list[str] | None,
    Query(alias="filter", max_length=64, description="Repeatable col:op:value, op in eq,ne,lt,le,gt,ge"),
]
CursorQuery = Annotated[str | None, Query(max_length=4096)]
PageLimit = Annotated[int, Query(ge=1, le=results_service.MAX_RESULTS_LIMIT)]


@router.get("/jobs/{job_id}/results", response_model=ResultsPage, responses=NOT_FOUND)
async def get_results(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    sort: SortQuery = None,
    filters: FilterQuery = None,
    cursor: CursorQuery = None,
    limit: PageLimit = 100,
) -> ResultsPage:
    def work(session: Session, who: Principal) -> ResultsPage:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return results_service.results_page(session, job, sort=sort, filters=filters or [], cursor=cursor, limit=limit)

    return await authorized(request, credentials, work)


@router.get(
    "/jobs/{job_id}/export",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {
            "description": "The results as a file, streamed",
            "content": {media: {} for media in exporting.EXPORT_FORMATS.values()},
        },
    },
)
async def export_results(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    fmt: Annotated[str, Query(alias="format", description="csv or parquet")] = "csv",
    sort: SortQuery = None,
    filters: FilterQuery = None,
) -> StreamingResponse:
    def work(session: Session, who: Principal) -> exporting.ExportPlan:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return exporting.plan_export(session, job, fmt=fmt, sort=sort, filters=filters or [], token_id=who.token_id)

    # The plan (and its audit event) commits first; rows then stream from a server-side cursor of their own.
    plan = await authorized(request, credentials, work)
    return StreamingResponse(
        exporting.chunks(plan),
        media_type=plan.media_type,
        headers={"Content-Disposition": f'attachment; filename="{plan.filename}"'},
    )


@router.get("/jobs/{job_id}/errors", response_model=ErrorsPage, responses=NOT_FOUND)
async def get_errors(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    code: Annotated[str | None, Query(max_length=48)] = None,
    cursor: CursorQuery = None,
    limit: PageLimit = 100,
) -> ErrorsPage:
    def work(session: Session, who: Principal) -> ErrorsPage:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return results_service.errors_page(session, job, code=code, cursor=cursor, limit=limit)

    return await authorized(request, credentials, work)


@router.get("/jobs/{job_id}/provenance", response_model=ProvenancePage, responses=NOT_FOUND)
async def get_provenance(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    cursor: CursorQuery = None,
    limit: PageLimit = 100,
) -> ProvenancePage:
    def work(session: Session, who: Principal) -> ProvenancePage:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return results_service.provenance_page(session, job, cursor=cursor, limit=limit)

    return await authorized(request, credentials, work)
