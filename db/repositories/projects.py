"""Projects: the tenancy boundary. Every job query is scoped by a project id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Project


def get_by_name(session: Session, name: str) -> Project | None:
    return session.execute(select(Project).where(Project.name == name)).scalar_one_or_none()


def get_or_create(session: Session, name: str) -> tuple[Project, bool]:
    """Returns (project, created). A concurrent creator's row wins and is returned instead of an error."""
    existing = get_by_name(session, name)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            project = Project(name=name)
            session.add(project)
    except IntegrityError:
        winner = get_by_name(session, name)
        if winner is None:
            raise
        return winner, False
    return project, True
