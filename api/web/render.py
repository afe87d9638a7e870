"""Rendering dashboard pages: one Jinja2 environment with autoescaping on for every template (job names, item
keys, error messages and every other user-controlled value are text, never markup), strict security headers,
and the common path of a page: session -> one unit of work -> template, or the login page, or an error page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from api.deps import authorized_token
from api.services.projects import Principal
from api.web import highlight, views
from api.web.session import clear_session, csrf_token, page_token
from core.errors import MedsieveError, NotFound, Unauthorized

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"

# No inline script or style anywhere: the pages work under a CSP that allows only this origin's files.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages hold one project's data: never cached by the browser or a proxy.
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    cell=views.cell, when=views.when, duration=views.duration, size=views.size, rate=views.rate, short=views.short
)
_env.filters.update(entity_title=highlight.entity_title, entity_class=highlight.entity_class)
_env.globals.update(
    url=views.url, image_url=views.image_url, item_url=views.item_url, ui=views.UI_PREFIX, progress=views.progress
)


def render(name: str, context: Mapping[str, Any], status_code: int = 200) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def job_uuid(text: str) -> uuid.UUID:
    """A job id from the path; anything else is a job that does not exist (404, like another project's job)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"job {text[:64]} not found") from None


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never another host (no open redirect)."""
    if target and target.startswith(views.UI_PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return views.UI_PREFIX + "/jobs"


def login_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"{views.UI_PREFIX}/login?next={quote(safe_next(here), safe='')}", status_code=303)
    if request.cookies:
        clear_session(response)  # an invalid or revoked token must not be retried on every page
    return response


def error_page(exc: MedsieveError, who: Principal | None = None) -> HTMLResponse:
    context = {"title": f"{exc.status_code}", "who": who, "csrf": None, "error": exc}
    return render("error.html", context, status_code=exc.status_code)


async def page(
    request: Request,
    template: str,
    work: Callable[[Session, Principal], dict[str, Any]],
) -> Response:
    """Session, then `work` in one unit of work (queries scoped by the token's project), then the template."""
    try:
        token = page_token(request)
        context = await authorized_token(request, token, lambda s, who: {**work(s, who), "who": who})
    except Unauthorized:
        return login_redirect(request)
    except MedsieveError as exc:
        return error_page(exc)
    status_code = int(context.pop("status_code", 200))
    return render(template, {**context, "csrf": csrf_token(token)}, status_code=status_code)
