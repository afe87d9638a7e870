"""Triage transport: the worklist, de-identified images, and DICOMweb STOW-RS intake."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.auth import CredentialsDep
from api.deps import authorized, principal
from api.routes import API_PREFIX
from api.routes.jobs import NOT_FOUND
from api.routes.submit import SubmitForm, accept, early_check, parameters_text
from api.schemas import ErrorResponse, JobDetail, Worklist
from api.services import jobs as jobs_service
from api.services import triage as triage_service
from api.services.projects import Principal
from api.stow import read_stow
from core.errors import NotFound
from core.settings import get_settings
from db.repositories import triage as triage_repo

router = APIRouter(prefix=API_PREFIX)


@router.get(
    "/jobs/{job_id}/worklist",
    response_model=Worklist,
    responses=NOT_FOUND,
    summary="Triage worklist: studies by urgency, with series and reasons",
)
async def get_worklist(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=triage_service.MAX_WORKLIST_LIMIT)] = 100,
) -> Worklist:
    def work(session: Session, who: Principal) -> Worklist:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return triage_service.worklist(session, job, offset=offset, limit=limit)

    return await authorized(request, credentials, work)


@router.get(
    "/jobs/{job_id}/images/{item_index}/{kind}.png",
    responses={**NOT_FOUND, 200: {"content": {"image/png": {}}}},
    response_class=Response,
    summary="De-identified PNG of a triage instance: its thumbnail or its saliency overlay",
)
async def get_image(
    job_id: uuid.UUID,
    item_index: Annotated[int, Path(ge=0)],
    kind: Literal["thumbnail", "saliency"],
    request: Request,
    credentials: CredentialsDep,
) -> Response:
    def work(session: Session, who: Principal) -> bytes:
        job = jobs_service.get_job(session, who.project_id, job_id)
        png = triage_repo.image(session, job.id, item_index, kind) if job.domain == "triage" else None
        if png is None:
            raise NotFound(f"no {kind} for item {item_index} of job {job_id}")
        return png

    png = await authorized(request, credentials, work)
    # Private: the image belongs to one project; immutable: results never change once written.
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.post(
    "/dicomweb/studies",
    status_code=202,
    response_model=JobDetail,
    summary='DICOMweb STOW-RS: store instances (multipart/related; type="application/dicom") as a triage job',
    responses={
        200: {"model": JobDetail, "description": "Idempotent replay"},
        409: {"model": ErrorResponse},
        413: {"model": ErrorResponse},
        415: {"model": ErrorResponse},
    },
)
async def stow_rs(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    credentials: CredentialsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    parameters: Annotated[str | None, Query(description="Triage parameters as a JSON object")] = None,
    name: Annotated[str | None, Query()] = None,
    priority: Annotated[int | None, Query()] = None,
    device: Annotated[str | None, Query(description="cpu or gpu")] = None,
) -> JobDetail:
    settings = get_settings()
    who = await principal(request, credentials)
    form = SubmitForm("triage", parameters_text(parameters), name, priority, device, None, "zip")
    early_check({"domain": "triage", **({"parameters": parameters} if parameters else {})})
    upload = await read_stow(
        request, settings.resolved_artifact_dir, settings.max_upload_bytes, settings.max_items_per_job
    )
    return await accept(form, upload, who, idempotency_key, response, background)
