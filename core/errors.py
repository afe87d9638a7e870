"""Domain errors carry their HTTP status and a stable code; one API handler renders them."""

from __future__ import annotations

from typing import Any


class MedsieveError(Exception):
    status_code = 500
    code = "INTERNAL"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(MedsieveError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(MedsieveError):
    status_code = 401
    code = "UNAUTHORIZED"


class NotFound(MedsieveError):
    status_code = 404
    code = "NOT_FOUND"


class RequestTimeout(MedsieveError):
    status_code = 408
    code = "REQUEST_TIMEOUT"


class Conflict(MedsieveError):
    status_code = 409
    code = "CONFLICT"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class PayloadTooLarge(MedsieveError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(MedsieveError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class InvalidInput(MedsieveError):
    status_code = 422
    code = "INVALID_INPUT"


class InvalidParameters(InvalidInput):
    """Job parameters that only a worker can check (chemistry in SMARTS or reference SMILES)."""

    code = "INVALID_PARAMETERS"


class RateLimited(MedsieveError):
    status_code = 429
    code = "RATE_LIMITED"


class ServiceUnavailable(MedsieveError):
    status_code = 503
    code = "UNAVAILABLE"


class TransientError(Exception):
    """Worker side: worth retrying with backoff (DB or broker hiccup)."""


class PermanentError(Exception):
    """Worker side: retrying cannot help; record and move on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
