"""The dashboard's session: the user's API token in an HttpOnly, SameSite=Strict cookie, checked on every
request exactly like a bearer token (same service, same cache, same rate limit), plus CSRF protection for
the forms that change state.

CSRF: SameSite=Strict keeps the cookie off cross-site requests in current browsers; on top of that every
state-changing form carries a token derived from the session (HMAC of a fixed label under the API token, so
it is the same in every API process and unguessable without the token), and a POST whose Origin (or Referer)
names another site is refused before its body is read.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response

from api.auth import SESSION_COOKIE, admit, session_token
from core.errors import MedsieveError, Unauthorized

CSRF_FIELD = "csrf_token"
_CSRF_LABEL = b"medsieve-dashboard-csrf-v1"
# Long enough for a working day of polling; the token itself can be revoked at any time.
SESSION_MAX_AGE_S = 12 * 3600


class Forbidden(MedsieveError):
    status_code = 403
    code = "FORBIDDEN"


def page_token(request: Request) -> str:
    """The session's API token after the rate limit; 401 when there is no session."""
    token = session_token(request)
    if token is None:
        raise Unauthorized("not signed in")
    return admit(request, token)


def csrf_token(api_token: str) -> str:
    return hmac.new(api_token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def check_csrf(api_token: str, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(csrf_token(api_token), presented):
        raise Forbidden("the form's CSRF token is missing or stale; reload the page and try again")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: Request) -> None:
    """A browser names the page a POST comes from in Origin (or at least Referer): it must be this site."""
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if _origin_of(origin) != own:
            raise Forbidden("cross-site form submission refused")
        return
    referer = request.headers.get("referer")
    if referer is not None and _origin_of(referer) != own:
        raise Forbidden("cross-site form submission refused")
    if origin == "null":
        raise Forbidden("form submission from an opaque origin refused")


def set_session(response: Response, request: Request, api_token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        api_token,
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
