"""One place that turns every failure into {"error": {"code", "message", "details"}}.

Domain errors carry their own status; validation errors are 422; a lost database is 503 with Retry-After (the
client should come back, nothing is wrong with its request); anything else is a 500 without internals.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import BadRequest, InvalidInput, MedsieveError, RateLimited, Unauthorized

log = logging.getLogger(__name__)

DB_RETRY_AFTER_S = 5


class EmptyInput(InvalidInput):
    code = "EMPTY_INPUT"


class InvalidParameters(InvalidInput):
    code = "INVALID_PARAMETERS"


class UnknownDomain(InvalidInput):
    code = "UNKNOWN_DOMAIN"


class InvalidCursor(InvalidInput):
    code = "INVALID_CURSOR"


class MalformedBody(BadRequest):
    code = "MALFORMED_BODY"


class TokenRateLimited(RateLimited):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many requests for this token", details={"retry_after_s": round(retry_after_s, 3)})
        self.retry_after_s = retry_after_s


def validation_details(errors: list[Any]) -> dict[str, Any]:
    """Pydantic's messages, without `ctx`/`input` (they may hold unserializable objects or the user's data)."""
    return {
        "errors": [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors
        ]
    }


def params_error(exc: ValidationError) -> InvalidParameters:
    return InvalidParameters("invalid parameters", details=validation_details(list(exc.errors())))


def _body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


async def _medsieve(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MedsieveError)
    headers = None
    if isinstance(exc, TokenRateLimited):
        headers = {"Retry-After": _retry_after(exc.retry_after_s)}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(_body(exc.code, exc.message, exc.details), status_code=exc.status_code, headers=headers)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(list(exc.errors()))
    return JSONResponse(_body("VALIDATION_ERROR", "request validation failed", details), status_code=422)


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse(
        _body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


def _is_connection_error(exc: Exception) -> bool:
    if isinstance(exc, OperationalError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


async def _database(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DataError):
        # A value the database refuses to store or compare (PostgreSQL text cannot hold NUL, found by fuzzing
        # `GET /v1/jobs?domain=%00`): the request's fault, not a server error.
        log.info("database refused a request value: %s", type(exc.orig).__name__)
        return JSONResponse(
            _body("INVALID_INPUT", "the request contains a value that cannot be stored (e.g. a NUL character)"),
            status_code=422,
        )
    if not _is_connection_error(exc):
        return await _unhandled(request, exc)
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        _body("DATABASE_UNAVAILABLE", "the database is unavailable; retry later"),
        status_code=503,
        headers={"Retry-After": str(DB_RETRY_AFTER_S)},
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(_body("INTERNAL", "internal server error"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(MedsieveError, _medsieve)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_exception_handler(Exception, _unhandled)
