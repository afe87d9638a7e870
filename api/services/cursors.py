"""Opaque pagination cursors: url-safe base64 of a small JSON object. Not secret (a client can only page
through its own project's rows with them), but validated, so a mangled cursor is a 422 and never a 500."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from api.errors import InvalidCursor

MAX_CURSOR_CHARS = 4096


def encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> dict[str, Any]:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(payload, dict):
        raise InvalidCursor("malformed cursor")
    return payload
