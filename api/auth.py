"""Bearer-token authentication and the per-token rate limit, as one dependency of every /v1 route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep
from api.errors import TokenRateLimited
from api.ratelimit import TokenBucketLimiter
from api.services.projects import Principal, authenticate
from core.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer ms_...`")


def require_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing or malformed Authorization header; expected 'Bearer <token>'")
    principal = authenticate(session, credentials.credentials.strip())
    limiter: TokenBucketLimiter = request.app.state.limiter
    wait_s = limiter.acquire(principal.token_id)
    if wait_s > 0:
        raise TokenRateLimited(wait_s)
    return principal


PrincipalDep = Annotated[Principal, Depends(require_principal)]
