"""Projects and API tokens. A token's plaintext exists only in the return value of create_token."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.enums import AuditAction
from core.errors import InvalidInput, Unauthorized
from db.repositories import audit, projects, tokens

TOKEN_PREFIX = "ms_"
_MAX_TOKEN_CHARS = 200  # anything longer is not one of ours; refuse before hashing


@dataclass(frozen=True)
class Principal:
    """Who is calling: every job query is scoped by project_id."""

    project_id: uuid.UUID
    project_name: str
    token_id: int


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _check_name(label: str, value: str) -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise InvalidInput(f"{label} must be 1-200 characters")
    return value


def create_token(session: Session, project_name: str, token_name: str) -> str:
    """Creates the project if absent and a token for it; returns the plaintext, which is never stored."""
    project, created = projects.get_or_create(session, _check_name("project name", project_name))
    if created:
        audit.record(session, AuditAction.project_create.value, project_id=project.id, target=project.name)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = tokens.add(
        session,
        project_id=project.id,
        name=_check_name("token name", token_name),
        token_hash=hash_token(plaintext),
        prefix=plaintext[:10],
    )
    audit.record(
        session,
        AuditAction.token_create.value,
        project_id=project.id,
        token_id=token.id,
        target=f"token:{token.id}",
        details={"name": token.name, "prefix": token.prefix},
    )
    return plaintext


class PrincipalCache:
    """Recently verified tokens, per API process, for `ttl_s` seconds. Clients poll all day with the same token;
    skipping its lookup takes one query off every poll. The price: a revoked token keeps working on a process
    that verified it for at most `ttl_s` more seconds. Only successes are cached, so a new token works at once."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, token_hash: str) -> Principal | None:
        if self.ttl_s <= 0:
            return None
        with self._lock:
            hit = self._entries.get(token_hash)
        if hit is None or time.monotonic() - hit[0] > self.ttl_s:
            return None
        return hit[1]

    def put(self, token_hash: str, who: Principal) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # crude but bounded; the next polls repopulate it
            self._entries[token_hash] = (time.monotonic(), who)


def authenticate(session: Session, plaintext: str, cache: PrincipalCache | None = None) -> Principal:
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > _MAX_TOKEN_CHARS:
        raise Unauthorized("invalid API token")
    digest = hash_token(plaintext)
    if cache is not None and (who := cache.get(digest)) is not None:
        return who
    found = tokens.find_active(session, digest)
    if found is None:
        raise Unauthorized("invalid or revoked API token")
    token, project = found
    who = Principal(project_id=project.id, project_name=project.name, token_id=token.id)
    if cache is not None:
        cache.put(digest, who)
    return who
