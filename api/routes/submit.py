"""POST /v1/jobs in its three body shapes: JSON with inline items, multipart with one file, or a raw body.

Every shape ends the same way: a validated request plus a PendingUpload, committed to the artifact store only
after validation passed, then one call to services.submission.submit_job. The ingest message is published by a
background task after the response, i.e. after the unit of work has committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import CredentialsDep
from api.deps import in_unit_of_work, principal
from api.errors import EmptyInput, validation_details
from api.routes import API_PREFIX
from api.schemas import ErrorResponse, JobDetail, JobSubmitJson
from api.services import jobs as jobs_service
from api.services import submission
from api.services.dispatching import dispatch_ingest
from api.services.projects import Principal
from api.uploads import (
    FORM_FIELDS,
    PendingUpload,
    check_content_length,
    read_json,
    read_multipart,
    read_raw,
)
from core.errors import InvalidInput, UnsupportedMediaType
from core.settings import get_settings

router = APIRouter(prefix=API_PREFIX)

RAW_MEDIA_TYPES = frozenset({"application/octet-stream", "application/gzip", "application/x-gzip", "text/plain"})
SUPPORTED_MEDIA_TYPES = ("application/json", "multipart/form-data", *sorted(RAW_MEDIA_TYPES))
INLINE_FILENAME = "items.jsonl"
INLINE_FORMAT = "jsonl"

_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["domain", "file"],
    "properties": {
        "domain": {"type": "string"},
        "parameters": {"type": "string", "description": "JSON object, validated by the domain"},
        "name": {"type": "string"},
        "priority": {"type": "integer", "minimum": 0, "maximum": submission.MAX_PRIORITY},
        "device": {"type": "string", "enum": ["cpu", "gpu"]},
        "file": {"type": "string", "format": "binary"},
    },
}
SUBMIT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "JSON with inline items, multipart with one `file` part, or the raw file as the body "
        "(then domain/parameters/filename/... are query parameters).",
        "content": {
            "application/json": {"schema": JobSubmitJson.model_json_schema()},
            "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@dataclass
class SubmitForm:
    domain: str
    parameters: Any
    name: str | None
    priority: int | None
    device: str | None
    filename: str | None
    # Fixed for inline items (we wrote the JSONL ourselves); None = ask the plug-in to detect it.
    input_format: str | None = None


def parameters_text(text: str | None) -> Any:
    if text is None or not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput("parameters must be a JSON object") from exc


def _priority_text(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise InvalidInput("priority must be an integer") from exc


def early_check(fields: dict[str, str]) -> None:
    """Runs when the file part starts: reject a bad domain or bad parameters before the upload streams."""
    if "domain" not in fields:
        return
    plugin = submission.load_plugin(fields["domain"])
    if "parameters" in fields:
        submission.validate_parameters(plugin, parameters_text(fields["parameters"]))


def _items_jsonl(items: list[str | dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(item, ensure_ascii=False).encode() + b"\n" for item in items)


async def _from_json(request: Request) -> tuple[SubmitForm, PendingUpload]:
    settings = get_settings()
    try:
        body = JobSubmitJson.model_validate(await read_json(request))
    except ValidationError as exc:
        raise InvalidInput("invalid request body", details=validation_details(list(exc.errors()))) from exc
    if not body.items:
        raise EmptyInput("items is empty")
    upload = PendingUpload(settings.resolved_artifact_dir, settings.max_upload_bytes)
    try:
        await upload.write(_items_jsonl(body.items))
    except BaseException:
        upload.abort()
        raise
    form = SubmitForm(
        body.domain, body.parameters, body.name, body.priority, body.device, INLINE_FILENAME, INLINE_FORMAT
    )
    return form, upload


async def _from_multipart(request: Request) -> tuple[SubmitForm, PendingUpload]:
    settings = get_settings()
    parsed = await read_multipart(
        request, settings.resolved_artifact_dir, settings.max_upload_bytes, on_file_start=early_check
    )
    if parsed.upload is None:
        raise InvalidInput("multipart body has no 'file' part")
    fields = parsed.fields
    try:
        if not fields.get("domain"):
            raise InvalidInput("form field 'domain' is required")
        form = SubmitForm(
            domain=fields["domain"],
            parameters=parameters_text(fields.get("parameters")),
            name=fields.get("name"),
            priority=_priority_text(fields.get("priority")),
            device=fields.get("device"),
            filename=parsed.filename,
        )
    except BaseException:
        parsed.upload.abort()
        raise
    return form, parsed.upload


def _validate(form: SubmitForm, upload: PendingUpload) -> str:
    """Everything submit_job would reject, checked before the upload is committed to the store."""
    plugin = submission.load_plugin(form.domain)
    params = submission.validate_parameters(plugin, form.parameters)
    submission.normalize_device(form.device)
    submission.normalize_priority(form.priority)
    submission.normalize_name(form.name)
    if upload.size == 0:
        raise EmptyInput("the uploaded file is empty")
    if form.input_format is not None:
        return form.input_format
    filename = submission.display_filename(form.filename)
    return submission.detect_format(plugin, filename, bytes(upload.head), params)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobDetail,
    summary="Submit a job",
    openapi_extra=SUBMIT_OPENAPI,
    responses={
        200: {"model": JobDetail, "description": "Idempotent replay: the job this Idempotency-Key created"},
        409: {"model": ErrorResponse, "description": "Idempotency-Key reused with a different request"},
        413: {"model": ErrorResponse},
        415: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
async def submit_job(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    credentials: CredentialsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    domain: Annotated[str | None, Query(description="raw-body uploads only")] = None,
    parameters: Annotated[str | None, Query(description="raw-body uploads only: JSON object")] = None,
    filename: Annotated[str | None, Query(description="raw-body uploads only: for display and format hints")] = None,
    name: Annotated[str | None, Query(description="raw-body uploads only")] = None,
    priority: Annotated[int | None, Query(description="raw-body uploads only")] = None,
    device: Annotated[str | None, Query(description="raw-body uploads only: cpu or gpu")] = None,
) -> JobDetail:
    settings = get_settings()
    # Authenticate (and rate-limit) before reading a byte of the body, in a transaction of its own.
    who = await principal(request, credentials)
    submission.check_idempotency_key(idempotency_key)
    media = _media_type(request)
    query_given = [k for k in FORM_FIELDS | {"filename"} if k in request.query_params]
    if media in ("application/json", "multipart/form-data") and query_given:
        raise InvalidInput(f"query parameters {sorted(query_given)} are only for raw-body uploads")
    if media == "application/json":
        form, upload = await _from_json(request)
    elif media == "multipart/form-data":
        form, upload = await _from_multipart(request)
    elif media in RAW_MEDIA_TYPES or media.startswith("chemical/x-"):
        if not domain:
            raise InvalidInput("query parameter 'domain' is required for raw-body uploads")
        check_content_length(request, settings.max_upload_bytes)
        form = SubmitForm(domain, parameters_text(parameters), name, priority, device, filename)
        early_check({"domain": domain, **({"parameters": parameters} if parameters else {})})
        upload = await read_raw(request, settings.resolved_artifact_dir, settings.max_upload_bytes)
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media!r}",
            details={"supported": [*SUPPORTED_MEDIA_TYPES, "chemical/x-*"]},
        )

    return await accept(form, upload, who, idempotency_key, response, background)


async def accept(
    form: SubmitForm,
    upload: PendingUpload,
    who: Principal,
    idempotency_key: str | None,
    response: Response,
    background: BackgroundTasks,
) -> JobDetail:
    """The common end of every submission route: validate, commit the upload, create the job, and publish its
    ingest message after the response (i.e. after the transaction committed)."""
    try:
        input_format = await run_in_threadpool(_validate, form, upload)
        artifact = await upload.commit()
    except BaseException:
        upload.abort()
        raise

    def work(session: Session) -> tuple[submission.SubmitOutcome, JobDetail]:
        outcome = submission.submit_job(
            session,
            project_id=who.project_id,
            domain=form.domain,
            parameters=form.parameters,
            artifact=artifact,
            input_format=input_format,
            filename=form.filename,
            idempotency_key=idempotency_key,
            name=form.name,
            priority=form.priority,
            device=form.device,
            token_id=who.token_id,
        )
        return outcome, jobs_service.detail(session, outcome.job)

    outcome, detail = await in_unit_of_work(work)
    job = outcome.job
    if outcome.created:
        background.add_task(dispatch_ingest, job.id, job.domain)
        response.status_code = 202
    else:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"{API_PREFIX}/jobs/{job.id}"
    return detail
