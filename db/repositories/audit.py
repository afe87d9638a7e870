"""Append-only audit trail. Rows are only ever inserted."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    project_id: uuid.UUID | None,
    token_id: int | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(project_id=project_id, token_id=token_id, action=action, target=target, details=details or {})
    session.add(event)
    return event


def for_target(session: Session, target: str, action: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.target == target)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    return list(session.execute(stmt.order_by(AuditEvent.id)).scalars())
