"""Literature transport: the job's chemical-disease pairs and chemicals, document exports (BioC-JSON, PubTator,
CSV), and one call that turns the job's chemicals with structures into a screening job."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.auth import CredentialsDep
from api.deps import authorized, in_unit_of_work, principal
from api.routes import API_PREFIX
from api.routes.jobs import NOT_FOUND
from api.routes.submit import SubmitForm, accept
from api.schemas import ErrorResponse, JobDetail
from api.services import jobs as jobs_service
from api.services import literature as literature_service
from api.services.projects import Principal
from api.uploads import PendingUpload
from core.settings import get_settings
from workers.literature import exports

router = APIRouter(prefix=API_PREFIX)


class PairsPage(BaseModel):
    job_id: uuid.UUID
    status: str
    total: int
    items: list[dict[str, Any]]


class ChemicalsPage(BaseModel):
    job_id: uuid.UUID
    status: str
    items: list[dict[str, Any]]


class ScreeningFromLiterature(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict, description="Screening parameters, as for POST /jobs.")
    name: str | None = Field(default=None, max_length=200)
    min_documents: int = Field(default=1, ge=1, description="Only chemicals mentioned in at least this many documents.")
    priority: int | None = None
    device: str | None = None


@router.get("/jobs/{job_id}/pairs", response_model=PairsPage, responses=NOT_FOUND, summary="Chemical-disease pairs")
async def get_pairs(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    min_documents: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=literature_service.MAX_PAIRS_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """CID pairs over the whole job, most-supported first: documents, max/mean score, supporting doc ids."""

    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return literature_service.pairs_page(session, job, min_documents=min_documents, limit=limit, offset=offset)

    return await authorized(request, credentials, work)


@router.get("/jobs/{job_id}/chemicals", response_model=ChemicalsPage, responses=NOT_FOUND)
async def get_chemicals(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    with_structure: Annotated[bool, Query(description="Only chemicals with a known SMILES")] = False,
) -> dict[str, Any]:
    """The job's normalized chemicals (MeSH), with document and mention counts and a SMILES where known."""

    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return literature_service.chemicals(session, job, with_structure=with_structure)

    return await authorized(request, credentials, work)


@router.get(
    "/jobs/{job_id}/annotations",
    response_class=StreamingResponse,
    responses={**NOT_FOUND, 200: {"content": {media: {} for media in set(exports.FORMATS.values())}}},
    summary="Export a literature job's annotations",
)
async def export_annotations(
    job_id: uuid.UUID,
    request: Request,
    credentials: CredentialsDep,
    fmt: Annotated[str, Query(alias="format", description="bioc-json, pubtator, entities-csv or pairs-csv")] = (
        "bioc-json"
    ),
) -> StreamingResponse:
    def work(session: Session, who: Principal) -> literature_service.AnnotationExport:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return literature_service.plan_annotation_export(session, job, fmt, who.token_id)

    plan = await authorized(request, credentials, work)
    return StreamingResponse(
        literature_service.annotation_chunks(plan),
        media_type=plan.media_type,
        headers={"Content-Disposition": f'attachment; filename="{plan.filename}"'},
    )


@router.post(
    "/jobs/{job_id}/screening-job",
    status_code=202,
    response_model=JobDetail,
    responses={**NOT_FOUND, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    summary="Screen the chemicals of a finished literature job",
)
async def screen_chemicals(
    job_id: uuid.UUID,
    body: ScreeningFromLiterature,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    credentials: CredentialsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JobDetail:
    """Creates a screening job whose library is this job's normalized chemicals that have a structure
    (CSV: smiles, id = MeSH id, name, documents, mentions; the extra columns ride along as properties)."""
    who = await principal(request, credentials)

    def work(session: Session) -> tuple[bytes, int]:
        job = jobs_service.get_job(session, who.project_id, job_id)
        return literature_service.screening_library(session, job, min_documents=body.min_documents)

    library, _ = await in_unit_of_work(work)
    settings = get_settings()
    upload = PendingUpload(settings.resolved_artifact_dir, settings.max_upload_bytes)
    try:
        await upload.write(library)
    except BaseException:
        upload.abort()
        raise
    name = body.name or f"chemicals of literature job {job_id}"
    form = SubmitForm("screening", body.parameters, name, body.priority, body.device, "chemicals.csv", "csv")
    return await accept(form, upload, who, idempotency_key, response, background)
