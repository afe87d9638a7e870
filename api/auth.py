"""Bearer-token authentication and the per-token rate limit.

The limit is checked first, keyed by the token's hash, before any database work: a client storming the API
with one token gets cheap 429s and cannot slow the database down for other tenants.

The dashboard (api/web) keeps the same token in an HttpOnly, SameSite=Strict cookie. Read-only requests
(GET/HEAD) accept that cookie when no Authorization header is sent, so the dashboard's <img> tags, export
links and progress polling use the JSON API as it is. Requests that change state never do: they need the
header, or go through the dashboard's own forms, which check a CSRF token and the Origin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import TokenRateLimited
from api.ratelimit import TokenBucketLimiter
from api.services.projects import hash_token
from core.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer ms_...`")

# Declares the security scheme in OpenAPI; async, so it costs no thread hop.
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

SESSION_COOKIE = "medsieve_session"
SAFE_METHODS = frozenset({"GET", "HEAD"})


def admit(request: Request, token: str) -> str:
    """Applies the token's rate limit; returns the token. Raises 429."""
    limiter: TokenBucketLimiter = request.app.state.limiter
    wait_s = limiter.acquire(hash_token(token))
    if wait_s > 0:
        raise TokenRateLimited(wait_s)
    return token


def session_token(request: Request) -> str | None:
    """The dashboard's cookie, if any (validated later exactly like a bearer token)."""
    token = request.cookies.get(SESSION_COOKIE, "").strip()
    return token or None


def bearer_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The presented token, after the rate limit let it through. Raises 401 or 429."""
    if credentials is None and request.method in SAFE_METHODS and (cookie := session_token(request)):
        return admit(request, cookie)
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise Unauthorized("missing or malformed Authorization header; expected 'Bearer <token>'")
    return admit(request, credentials.credentials.strip())
