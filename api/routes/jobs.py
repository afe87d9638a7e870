"""Reading and cancelling jobs."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from api.auth import CredentialsDep
from api.deps import authorized
from api.routes import API_PREFIX
from api.schemas import ErrorResponse, JobDetail, JobList
from api.services import jobs as jobs_service
from api.services.projects import Principal
from core.enums import JobStatus
from core.errors import InvalidInput
from db.repositories.jobs import JobFilters

router = APIRouter(prefix=API_PREFIX)
# The schema promises an ISO 8601 date-time; pydantic would also read a bare number as Unix seconds.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such job in the caller's project"}
}


@router.get("/jobs", response_model=JobList, summary="List the project's jobs, newest first")
async def list_jobs(
    request: Request,
    credentials: CredentialsDep,
    status: JobStatus | None = None,
    domain: Annotated[str | None, Query(max_length=32)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=jobs_service.MAX_LIST_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> JobList:
    for label, value in (("created_after", created_after), ("created_before", created_before)):
        raw = request.query_params.get(label)
        if raw is not None and not _ISO_DATE.match(raw):
            raise InvalidInput(f"{label} must be an ISO 8601 date-time (e.g. 2026-01-01T00:00:00Z), not {raw[:40]!r}")
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{label} needs a timezone (e.g. 2026-01-01T00:00:00Z)")
    filters = JobFilters(
        status=status.value if status else None,
        domain=domain,
        created_after=created_after,
        created_before=created_before,
    )
    return await authorized(
        request,
        credentials,
        lambda s, who: jobs_service.list_jobs(s, who.project_id, filters, cursor=cursor, limit=limit),
    )


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=NOT_FOUND, summary="Job status and progress")
async def get_job(job_id: uuid.UUID, request: Request, credentials: CredentialsDep) -> JobDetail:
    return await authorized(
        request, credentials, lambda s, who: jobs_service.detail(s, jobs_service.get_job(s, who.project_id, job_id))
    )


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobDetail,
    responses={**NOT_FOUND, 409: {"model": ErrorResponse, "description": "The job already finished"}},
    summary="Cancel a job; queued shards never run, running ones stop at their next check",
)
async def cancel_job(job_id: uuid.UUID, request: Request, credentials: CredentialsDep) -> JobDetail:
    def work(session: Session, who: Principal) -> JobDetail:
        job = jobs_service.cancel_job(session, who.project_id, job_id, token_id=who.token_id)
        return jobs_service.detail(session, job)

    return await authorized(request, credentials, work)
