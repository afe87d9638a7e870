"""The dashboard's pages under /ui: transport only. Every read goes through the same services as the JSON API,
scoped by the session token's project, so another project's job is a 404 here exactly as it is there."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.auth import admit
from api.deps import authorized_token
from api.routes.submit import SubmitForm, accept, early_check, parameters_text
from api.services import jobs as jobs_service
from api.services import results as results_service
from api.services import triage as triage_service
from api.services.projects import Principal
from api.uploads import FORM_FIELDS, check_content_length, read_multipart
from api.web import literature as literature_pages
from api.web import views
from api.web.render import error_page, job_uuid, login_redirect, page, render, safe_next
from api.web.session import (
    CSRF_FIELD,
    Forbidden,
    check_csrf,
    check_origin,
    clear_session,
    csrf_token,
    page_token,
    set_session,
)
from core.enums import JobStatus
from core.errors import Conflict, InvalidInput, MedsieveError, Unauthorized, UnsupportedMediaType
from core.settings import get_settings
from db.repositories import stats as stats_repo
from db.repositories.jobs import JobFilters
from db.repositories.results import FILTER_OPS
from workers.domains import available_domains, get_plugin

router = APIRouter(prefix=views.UI_PREFIX, include_in_schema=False)
root_router = APIRouter(include_in_schema=False)

PAGE_ROWS = 50
MAX_PAGE_ROWS = 500
MAX_LOGIN_BODY = 16 * 1024
NOTICES = {
    "cancelled": "The job was cancelled: queued shards will not run, running ones stop before writing.",
    "finished": "The job had already finished; nothing was cancelled.",
}
Text = Annotated[str | None, Query(max_length=4096)]


@root_router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse(views.UI_PREFIX + "/jobs", status_code=303)


@router.get("")
@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(views.UI_PREFIX + "/jobs", status_code=303)


# ------------------------------------------------------------------------------------------------ session


@router.get("/login")
async def login_form(next_: Annotated[str | None, Query(alias="next", max_length=2048)] = None) -> Response:
    context = {"title": "Sign in", "who": None, "csrf": None, "next": safe_next(next_), "error": None}
    return render("login.html", context)


@router.post("/login")
async def login(request: Request) -> Response:
    try:
        check_origin(request)
        check_content_length(request, MAX_LOGIN_BODY)
        form = await request.form(max_files=0, max_fields=4, max_part_size=MAX_LOGIN_BODY)
    except MedsieveError as exc:
        return error_page(exc)
    token = str(form.get("token") or "").strip()
    target = safe_next(str(form.get("next") or ""))
    try:
        if not token:
            raise Unauthorized("paste an API token (medsieve token create --project NAME)")
        await authorized_token(request, admit(request, token), lambda _s, who: who)
    except Unauthorized as exc:
        context = {"title": "Sign in", "who": None, "csrf": None, "next": target, "error": exc.message}
        return render("login.html", context, status_code=401)
    except MedsieveError as exc:
        return error_page(exc)
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse(views.UI_PREFIX + "/login", status_code=303)
    try:
        check_origin(request)
        token = page_token(request)
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        check_csrf(token, str(form.get(CSRF_FIELD) or ""))
    except Unauthorized:
        return response
    except MedsieveError as exc:
        return error_page(exc)
    clear_session(response)
    return response


# ------------------------------------------------------------------------------------------------ jobs


@router.get("/jobs")
async def jobs_page(request: Request, status: Text = None, domain: Text = None, cursor: Text = None) -> Response:
    def work(session: Session, who: Principal) -> dict[str, Any]:
        if status and status not in {s.value for s in JobStatus}:
            raise InvalidInput(f"unknown status {status!r}")
        filters = JobFilters(status=status or None, domain=domain or None)
        listing = jobs_service.list_jobs(session, who.project_id, filters, cursor=cursor or None, limit=PAGE_ROWS)
        return {
            "title": "Jobs",
            "jobs": listing.items,
            "next_cursor": listing.next_cursor,
            "status": status or "",
            "domain": domain or "",
            "statuses": [s.value for s in JobStatus],
            "domains": available_domains(),
            "paged": bool(cursor),
        }

    return await page(request, "jobs.html", work)


@router.get("/jobs/new")
async def submit_form(request: Request) -> Response:
    return await page(request, "submit.html", lambda _s, _who: _submit_context({}, None))


def _submit_context(fields: dict[str, str], error: str | None, status_code: int = 200) -> dict[str, Any]:
    return {
        "title": "Submit a job",
        "domains": available_domains(),
        "fields": fields,
        "error": error,
        "status_code": status_code,
    }


def _priority(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput("priority must be an integer") from None


@router.post("/jobs")
async def submit(request: Request, background: BackgroundTasks) -> Response:
    """The submit form: the same upload streaming, validation and submission as POST /v1/jobs."""
    try:
        check_origin(request)
        token = page_token(request)
        who = await authorized_token(request, token, lambda _s, w: w)
        if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "multipart/form-data":
            raise UnsupportedMediaType("the submit form sends multipart/form-data")
    except Unauthorized:
        return login_redirect(request)
    except MedsieveError as exc:
        return error_page(exc)

    fields: dict[str, str] = {}

    def on_file_start(sent: dict[str, str]) -> None:
        # Before a byte of the file is stored: a forged form never gets its upload written.
        fields.update(sent)  # kept to refill the form if the checks below refuse it
        check_csrf(token, sent.get(CSRF_FIELD))
        early_check({k: v for k, v in sent.items() if k != CSRF_FIELD})

    settings = get_settings()
    try:
        parsed = await read_multipart(
            request,
            settings.resolved_artifact_dir,
            settings.max_upload_bytes,
            on_file_start=on_file_start,
            allowed_fields=FORM_FIELDS | {CSRF_FIELD},
        )
        fields.update(parsed.fields)
        upload = parsed.upload
        try:
            check_csrf(token, fields.get(CSRF_FIELD))
            if upload is None:
                raise InvalidInput("choose a file to upload")
            form = SubmitForm(
                domain=fields.get("domain") or "",
                parameters=parameters_text(fields.get("parameters")),
                name=fields.get("name"),
                priority=_priority(fields.get("priority")),
                device=fields.get("device") or None,
                filename=parsed.filename,
            )
        except BaseException:
            if upload is not None:
                upload.abort()
            raise
        detail = await accept(form, upload, who, None, Response(), background)
    except Forbidden as exc:
        return error_page(exc, who)
    except MedsieveError as exc:
        shown = {k: v for k, v in fields.items() if k != CSRF_FIELD}
        context = {**_submit_context(shown, exc.message), "who": who, "csrf": csrf_token(token)}
        return render("submit.html", context, status_code=exc.status_code)
    return RedirectResponse(f"{views.UI_PREFIX}/jobs/{detail.id}", status_code=303, background=background)


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str, notice: Text = None) -> Response:
    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_uuid(job_id))
        detail = jobs_service.detail(session, job)
        view = views.domain_view(job.domain)
        plugin = get_plugin(job.domain)
        top = results_service.results_page(session, job, sort=None, filters=[], cursor=None, limit=8)
        return {
            "title": job.name or f"Job {job.id}",
            "job": detail,
            "view": view,
            "sort_label": plugin.default_sort,
            "top": top.items,
            "error_counts": stats_repo.error_counts(session, job.id),
            "errors": results_service.errors_page(session, job, code=None, cursor=None, limit=10).items,
            "provenance": results_service.provenance_page(session, job, cursor=None, limit=5).items,
            "terminal": views.is_terminal(detail.status),
            "notice": NOTICES.get(notice or ""),
        }

    return await page(request, "job.html", work)


@router.post("/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str) -> Response:
    try:
        check_origin(request)
        token = page_token(request)
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        check_csrf(token, str(form.get(CSRF_FIELD) or ""))
        target = job_uuid(job_id)

        def work(session: Session, who: Principal) -> str:
            try:
                jobs_service.cancel_job(session, who.project_id, target, token_id=who.token_id)
            except Conflict:
                return "finished"
            return "cancelled"

        notice = await authorized_token(request, token, work)
    except Unauthorized:
        return login_redirect(request)
    except MedsieveError as exc:
        return error_page(exc)
    return RedirectResponse(views.url(f"{views.UI_PREFIX}/jobs/{target}", notice=notice), status_code=303)


# ------------------------------------------------------------------------------------------------ results


@router.get("/jobs/{job_id}/results")
async def results_page(
    request: Request,
    job_id: str,
    sort: Annotated[str | None, Query(max_length=64)] = None,
    filters: Annotated[list[str] | None, Query(alias="filter", max_length=256)] = None,
    cursor: Text = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = PAGE_ROWS,
    f_col: Annotated[str | None, Query(max_length=64)] = None,
    f_op: Annotated[str | None, Query(max_length=8)] = None,
    f_val: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    base = f"{views.UI_PREFIX}/jobs/{job_id}/results"
    active = list(filters or [])
    if f_col and f_op and f_val is not None and f_val.strip():
        # The "add filter" form: fold it into the canonical filter list and show that URL.
        active.append(f"{f_col}:{f_op}:{f_val.strip()}")
        return RedirectResponse(views.url(base, sort=sort, filter=active, limit=limit), status_code=303)

    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_uuid(job_id))
        plugin = get_plugin(job.domain)
        view = views.domain_view(job.domain)
        context: dict[str, Any] = {
            "title": f"Results · {job.name or job.id}",
            "job": jobs_service.summary(job),
            "view": view,
            "sortable": list(plugin.sort_columns),
            "filterable": list(plugin.filter_columns),
            "ops": sorted(FILTER_OPS),
            "filters": active,
            "limit": limit,
            "base": base,
            "paged": bool(cursor),
            "error": None,
        }
        try:
            found = results_service.results_page(
                session, job, sort=sort, filters=active, cursor=cursor or None, limit=limit
            )
        except InvalidInput as exc:
            columns = views.ordered_columns(list(plugin.export_columns), view)
            return {**context, "rows": [], "columns": columns, "sort": sort or plugin.default_sort,
                    "next_cursor": None, "error": exc.message, "status_code": exc.status_code}  # fmt: skip
        return {
            **context,
            "rows": found.items,
            "columns": views.ordered_columns(found.columns, view),
            "sort": found.sort,
            "next_cursor": found.next_cursor,
        }

    return await page(request, "results.html", work)


@router.get("/jobs/{job_id}/errors")
async def errors_page(
    request: Request, job_id: str, code: Annotated[str | None, Query(max_length=48)] = None, cursor: Text = None
) -> Response:
    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_uuid(job_id))
        found = results_service.errors_page(session, job, code=code or None, cursor=cursor or None, limit=PAGE_ROWS)
        return {
            "title": f"Item errors · {job.name or job.id}",
            "job": jobs_service.summary(job),
            "rows": found.items,
            "next_cursor": found.next_cursor,
            "code": code or "",
            "counts": stats_repo.error_counts(session, job.id),
            "paged": bool(cursor),
        }

    return await page(request, "errors.html", work)


@router.get("/jobs/{job_id}/provenance")
async def provenance_page(request: Request, job_id: str, cursor: Text = None) -> Response:
    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_uuid(job_id))
        found = results_service.provenance_page(session, job, cursor=cursor or None, limit=PAGE_ROWS)
        return {
            "title": f"Provenance · {job.name or job.id}",
            "job": jobs_service.summary(job),
            "rows": found.items,
            "next_cursor": found.next_cursor,
            "paged": bool(cursor),
        }

    return await page(request, "provenance.html", work)


@router.get("/jobs/{job_id}/worklist")
async def worklist_page(request: Request, job_id: str, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
    def work(session: Session, who: Principal) -> dict[str, Any]:
        job = jobs_service.get_job(session, who.project_id, job_uuid(job_id))
        found = triage_service.worklist(session, job, offset=offset, limit=PAGE_ROWS)
        return {
            "title": f"Worklist · {job.name or job.id}",
            "job": jobs_service.summary(job),
            "worklist": found,
            "next_offset": offset + PAGE_ROWS if offset + PAGE_ROWS < found.total_studies else None,
            "prev_offset": max(0, offset - PAGE_ROWS) if offset else None,
        }

    return await page(request, "worklist.html", work)


# The literature domain's pages (documents with highlighted entities, the pair table) live in their own module.
router.include_router(literature_pages.router)
