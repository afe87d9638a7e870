"""Projects and API tokens. A token's plaintext exists only in the return value of create_token."""

from __future__ import annotations

import hashlib
import secrets
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


def authenticate(session: Session, plaintext: str) -> Principal:
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > _MAX_TOKEN_CHARS:
        raise Unauthorized("invalid API token")
    found = tokens.find_active(session, hash_token(plaintext))
    if found is None:
        raise Unauthorized("invalid or revoked API token")
    token, project = found
    return Principal(project_id=project.id, project_name=project.name, token_id=token.id)
