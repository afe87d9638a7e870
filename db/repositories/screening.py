"""Queries of the screening domain beyond the generic results table: depictions and SDF exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.models.screening import ScreeningDepiction, ScreeningExport


def depiction(session: Session, job_id: uuid.UUID, item_index: int) -> str | None:
    return session.scalar(
        select(ScreeningDepiction.svg).where(
            ScreeningDepiction.job_id == job_id, ScreeningDepiction.item_index == item_index
        )
    )


def add_export(session: Session, job_id: uuid.UUID, fmt: str, options: dict[str, Any]) -> ScreeningExport:
    export = ScreeningExport(job_id=job_id, format=fmt, options=options, status="queued")
    session.add(export)
    session.flush()
    return export


def get_export(session: Session, job_id: uuid.UUID, export_id: uuid.UUID) -> ScreeningExport | None:
    return session.scalar(
        select(ScreeningExport).where(ScreeningExport.id == export_id, ScreeningExport.job_id == job_id)
    )


def claim_export(session: Session, export_id: uuid.UUID, stale_before: datetime) -> ScreeningExport | None:
    """queued (or running but abandoned before `stale_before`) -> running; None if another run owns it."""
    row = session.execute(
        update(ScreeningExport)
        .where(
            ScreeningExport.id == export_id,
            (ScreeningExport.status == "queued")
            | ((ScreeningExport.status == "running") & (ScreeningExport.created_at < stale_before)),
        )
        .values(status="running")
        .returning(ScreeningExport.id)
    ).first()
    return None if row is None else session.get(ScreeningExport, export_id)


def finish_export(
    session: Session, export_id: uuid.UUID, *, records: int, sha256: str | None, size: int | None, error: str | None
) -> None:
    session.execute(
        update(ScreeningExport)
        .where(ScreeningExport.id == export_id)
        .values(
            status="failed" if error else "succeeded",
            records=records,
            sha256=sha256,
            size_bytes=size,
            error=error,
            finished_at=utcnow(),
        )
    )
