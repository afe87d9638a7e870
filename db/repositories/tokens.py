"""API tokens. Only the SHA-256 of a secret is stored or queried."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models import ApiToken, Project


def add(session: Session, *, project_id: uuid.UUID, name: str, token_hash: str, prefix: str) -> ApiToken:
    token = ApiToken(project_id=project_id, name=name, token_hash=token_hash, prefix=prefix)
    session.add(token)
    session.flush()
    return token


def find_active(session: Session, token_hash: str) -> tuple[ApiToken, Project] | None:
    row = session.execute(
        select(ApiToken, Project)
        .join(Project, Project.id == ApiToken.project_id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def revoke(session: Session, token_id: int) -> bool:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
