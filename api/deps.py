"""Running a request's work: one unit of work (one transaction) per request, in one worker-thread hop.

Routes are `async def` and hand the whole synchronous part (authentication, queries, decisions) to a single
threadpool call. A chain of sync dependencies would cost a thread hop each; on the poll path that overhead
was larger than the queries themselves. The transaction commits inside that call, i.e. before the response
is sent, so a client never sees a 2xx for work that was rolled back and background tasks see committed rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import bearer_token
from api.services.projects import Principal, authenticate
from db.session import unit_of_work

T = TypeVar("T")


async def authorized(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    work: Callable[[Session, Principal], T],
) -> T:
    return await authorized_token(request, bearer_token(request, credentials), work)


async def authorized_token(request: Request, token: str, work: Callable[[Session, Principal], T]) -> T:
    """As `authorized`, for a token already taken from the request (and admitted by the rate limit)."""
    cache = request.app.state.principals

    def run() -> T:
        with unit_of_work() as session:
            return work(session, authenticate(session, token, cache))

    return await run_in_threadpool(run)


async def principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """Authenticate in a short transaction of its own (used before a long upload, so no pooled connection
    idles while the body streams)."""
    return await authorized(request, credentials, lambda _session, who: who)


async def in_unit_of_work(work: Callable[[Session], T]) -> T:
    def run() -> T:
        with unit_of_work() as session:
            return work(session)

    return await run_in_threadpool(run)
