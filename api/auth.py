"""Bearer-token authentication and the per-token rate limit.

The limit is checked first, keyed by the token's hash, before any database work: a client storming the API
with one token gets cheap 429s and cannot slow the database down for other tenants.
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


def bearer_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The presented token, after the rate limit let it through. Raises 401 or 429."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials.strip():
        raise Unauthorized("missing or malformed Authorization header; expected 'Bearer <token>'")
    token = credentials.credentials.strip()
    limiter: TokenBucketLimiter = request.app.state.limiter
    wait_s = limiter.acquire(hash_token(token))
    if wait_s > 0:
        raise TokenRateLimited(wait_s)
    return token
