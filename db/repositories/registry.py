"""Registered models. Every lookup takes a project id: another project's model is simply not found."""

from __future__ import annotations

import builtins
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import RegisteredModel


def add(session: Session, model: RegisteredModel) -> RegisteredModel:
    """Flushes, so a duplicate (project, name, version) raises IntegrityError here, inside the caller's unit."""
    session.add(model)
    session.flush()
    return model


def get(session: Session, project_id: uuid.UUID, name: str, version: str | None = None) -> RegisteredModel | None:
    """The named version, or with version None the most recently registered one."""
    stmt = select(RegisteredModel).where(RegisteredModel.project_id == project_id, RegisteredModel.name == name)
    if version is not None:
        return session.execute(stmt.where(RegisteredModel.version == version)).scalar_one_or_none()
    latest = stmt.order_by(RegisteredModel.created_at.desc(), RegisteredModel.id.desc()).limit(1)
    return session.execute(latest).scalar_one_or_none()


def list(session: Session, project_id: uuid.UUID, name: str | None = None) -> builtins.list[RegisteredModel]:
    """The project's models by name, newest version first within a name. (Named like the other verbs here;
    `builtins.list` is spelled out because this function shadows it in this module.)"""
    stmt = select(RegisteredModel).where(RegisteredModel.project_id == project_id)
    if name is not None:
        stmt = stmt.where(RegisteredModel.name == name)
    stmt = stmt.order_by(RegisteredModel.name, RegisteredModel.created_at.desc(), RegisteredModel.id.desc())
    return [*session.execute(stmt).scalars()]
