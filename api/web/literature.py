"""The literature domain's dashboard pages: one document with its entities highlighted and its CID relations, and
the job's chemical-disease pairs with the annotation exports and the hand-over of its chemicals to a screening job.

Transport only, like routes.py: the job comes from the job service scoped by the session's project (another
project's job is a 404), the pairs and chemicals from api/services/literature.py, and the screening job is created
by the JSON API's own route function. The two lookups no service offers (one result row by item index, and the
item index of a pair's doc ids) are the small queries below, always under a job the service has already resolved.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import session_token
from api.routes import literature as literature_api
from api.routes.submit import parameters_text
from api.services import jobs as jobs_service
from api.services import literature as literature_service
from api.services.projects import Principal
from api.web import highlight, views
from api.web.render import error_page, job_uuid, login_redirect, page
from api.web.session import CSRF_FIELD, Forbidden, check_csrf, check_origin
from core.enums import JobStatus
from core.errors import InvalidInput, MedsieveError, NotFound, Unauthorized
from db.models import Job, LiteratureResult

router = APIRouter(include_in_schema=False)

PAIR_ROWS = 50
PAIR_DOC_LINKS = 5  # doc ids shown per pair; the pairs CSV has them all
CHEMICAL_PREVIEW = 10
MAX_FORM_BYTES = 64 * 1024
EXPORTS = (
    ("bioc-json", "BioC-JSON"),
    ("pubtator", "PubTator"),
    ("entities-csv", "Entities CSV"),
    ("pairs-csv", "Pairs CSV"),
)
DOC_FACTS = ("doc_id", "item_index", "title", "journal", "year", "source", "n_chars", "n_sentences", "chunked")
SCREEN_FIELDS = ("min_documents", "parameters", "name", "nonce")
Offset = Annotated[int, Query(ge=0)]
MinDocuments = Annotated[int, Query(ge=1)]


def _literature_job(session: Session, who: Principal, job_id: str) -> Job:
    job = jobs_service.get_job(session, who.project_id, job_uuid(job_id))
    literature_service.require_literature(job)
    return job


# ------------------------------------------------------------------------------------------------ queries


def _document(session: Session, job_id: uuid.UUID, item_index: int) -> LiteratureResult | None:
    stmt = select(LiteratureResult).where(LiteratureResult.job_id == job_id, LiteratureResult.item_index == item_index)
    return session.scalars(stmt).first()


def _neighbours(session: Session, job_id: uuid.UUID, item_index: int) -> tuple[int | None, int | None]:
    """The previous and next documents that have a result (failed items leave gaps in the indices)."""
    idx = LiteratureResult.item_index
    before = session.scalar(select(func.max(idx)).where(LiteratureResult.job_id == job_id, idx < item_index))
    after = session.scalar(select(func.min(idx)).where(LiteratureResult.job_id == job_id, idx > item_index))
    return before, after


def _item_indices(session: Session, job_id: uuid.UUID, doc_ids: Collection[str]) -> dict[str, int]:
    """doc id -> item index (the first, should a document appear twice) for the doc ids this job has."""
    if not doc_ids:
        return {}
    stmt = (
        select(LiteratureResult.doc_id, func.min(LiteratureResult.item_index))
        .where(LiteratureResult.job_id == job_id, LiteratureResult.doc_id.in_(list(doc_ids)))
        .group_by(LiteratureResult.doc_id)
    )
    return {doc_id: int(index) for doc_id, index in session.execute(stmt)}


# ------------------------------------------------------------------------------------------------ document


def _index(text: str) -> int:
    # Parsed here rather than typed in the path: a bad index is a missing document (HTML 404), not a JSON 422.
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound(f"document {text[:32]} not found")
    return int(text)


@router.get("/jobs/{job_id}/documents/{item_index}")
async def document_page(request: Request, job_id: str, item_index: str) -> Response:
    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = _literature_job(session, who, job_id)
        index = _index(item_index)
        row = _document(session, job.id, index)
        if row is None:
            raise NotFound(f"document {index} has no result in this job (see its item errors)")
        before, after = _neighbours(session, job.id, index)
        return {
            "title": f"{row.doc_id} · {row.title or 'document'}",
            "job": jobs_service.summary(job),
            # Plain values, not the ORM row: the template renders after the unit of work has closed.
            "doc": {c: getattr(row, c) for c in DOC_FACTS},
            "view": highlight.document_view(row.passages, row.entities, row.relations),
            "entity_types": highlight.ENTITY_TYPES,
            "prev_index": before,
            "next_index": after,
        }

    return await page(request, "document.html", work)


# ------------------------------------------------------------------------------------------------ pairs


def _pairs_context(session: Session, who: Principal, job_id: str, offset: int, min_documents: int) -> dict[str, Any]:
    job = _literature_job(session, who, job_id)
    found = literature_service.pairs_page(session, job, min_documents=min_documents, limit=PAIR_ROWS, offset=offset)
    shown = {d for p in found["items"] for d in p["doc_ids"][:PAIR_DOC_LINKS]}
    where = _item_indices(session, job.id, shown)
    pairs = [
        {
            **p,
            "docs": [(d, where.get(d)) for d in p["doc_ids"][:PAIR_DOC_LINKS]],
            "more_docs": max(0, len(p["doc_ids"]) - PAIR_DOC_LINKS),
        }
        for p in found["items"]
    ]
    succeeded = job.status == JobStatus.succeeded.value
    # The chemical table, like the pairs, exists once the job has succeeded (finalize builds both).
    chemicals = literature_service.chemicals(session, job, with_structure=True)["items"] if succeeded else []
    total = int(found["total"])
    return {
        "title": f"Pairs · {job.name or job.id}",
        "job": jobs_service.summary(job),
        "pairs": pairs,
        "total": total,
        "offset": offset,
        "min_documents": min_documents,
        "prev_offset": max(0, offset - PAIR_ROWS) if offset else None,
        "next_offset": offset + PAIR_ROWS if offset + PAIR_ROWS < total else None,
        "succeeded": succeeded,
        "exports": [(fmt, label) for fmt, label in EXPORTS if succeeded or fmt != "pairs-csv"],
        "chemicals": chemicals[:CHEMICAL_PREVIEW],
        "chemicals_total": len(chemicals),
        "fields": {"min_documents": "1", "parameters": "{}", "name": ""},
        # Idempotency key of this rendering of the form: a double click creates one screening job, not two.
        "nonce": secrets.token_urlsafe(16),
        "error": None,
    }


@router.get("/jobs/{job_id}/pairs")
async def pairs_page(request: Request, job_id: str, offset: Offset = 0, min_documents: MinDocuments = 1) -> Response:
    return await page(request, "pairs.html", lambda s, who: _pairs_context(s, who, job_id, offset, min_documents))


def _screening_body(fields: dict[str, str]) -> literature_api.ScreeningFromLiterature:
    try:
        min_documents = int(fields.get("min_documents") or "1")
    except ValueError:
        raise InvalidInput("minimum documents must be a whole number") from None
    try:
        return literature_api.ScreeningFromLiterature(
            parameters=parameters_text(fields.get("parameters")),
            name=fields.get("name") or None,
            min_documents=min_documents,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "form"
        raise InvalidInput(f"{where}: {problem['msg']}") from None


@router.post("/jobs/{job_id}/screening-job")
async def screen_chemicals(request: Request, job_id: str, background: BackgroundTasks) -> Response:
    """The pairs page's "Screen these chemicals" form: the JSON API's POST /v1/jobs/{id}/screening-job, called
    with the session's token once this site's Origin and the form's CSRF token are checked."""
    try:
        check_origin(request)
        token = session_token(request)
        if token is None:
            raise Unauthorized("not signed in")
        form = await request.form(max_files=0, max_fields=8, max_part_size=MAX_FORM_BYTES)
        check_csrf(token, str(form.get(CSRF_FIELD) or ""))
        target = job_uuid(job_id)
    except Unauthorized:
        return login_redirect(request)
    except MedsieveError as exc:
        return error_page(exc)

    fields = {k: str(form.get(k) or "") for k in SCREEN_FIELDS}
    try:
        body = _screening_body(fields)
        nonce = fields["nonce"].strip()
        detail = await literature_api.screen_chemicals(
            target,
            body,
            request,
            Response(),
            background,
            HTTPAuthorizationCredentials(scheme="Bearer", credentials=token),  # rate-limited and checked there
            idempotency_key=f"ui-screening-{nonce}" if nonce else None,
        )
    except Unauthorized:
        return login_redirect(request)
    except (NotFound, Forbidden) as exc:
        return error_page(exc)
    except MedsieveError as exc:
        # Refused (job not finished, no chemical with a structure, bad parameters): the pairs page with the reason.
        refused = exc

        def again(session: Session, who: Principal) -> dict[str, Any]:
            context = _pairs_context(session, who, job_id, 0, 1)
            shown = {k: v for k, v in fields.items() if k != "nonce"}
            return {**context, "fields": shown, "error": refused.message, "status_code": refused.status_code}

        return await page(request, "pairs.html", again)
    return RedirectResponse(f"{views.UI_PREFIX}/jobs/{detail.id}", status_code=303, background=background)
