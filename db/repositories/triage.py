"""Queries of the triage domain: the job-level mixed-patient check, the worklist, stored thumbnails."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from core.enums import ItemErrorCode
from db.models import ItemError, Job, TriageResult


def reject_mixed_patient_series(session: Session, job_id: uuid.UUID) -> int:
    """Moves every instance of a series that names more than one patient from results to MIXED_PATIENTS item
    errors, keeping the job's counters equal to the rows. Returns the number of instances moved."""
    patients = func.count(func.distinct(TriageResult.patient_pseudonym))
    mixed = dict(
        session.execute(
            select(TriageResult.series_uid, patients)
            .where(TriageResult.job_id == job_id)
            .group_by(TriageResult.series_uid)
            .having(patients > 1)
        ).all()
    )
    if not mixed:
        return 0
    rows = session.execute(
        select(
            TriageResult.id,
            TriageResult.item_index,
            TriageResult.item_key,
            TriageResult.shard_id,
            TriageResult.series_uid,
        ).where(TriageResult.job_id == job_id, TriageResult.series_uid.in_(mixed))
    ).all()
    session.execute(
        insert(ItemError),
        [
            {
                "job_id": job_id,
                "shard_id": r.shard_id,
                "item_index": r.item_index,
                "item_key": r.item_key,
                "code": ItemErrorCode.MIXED_PATIENTS.value,
                "message": f"series mixes instances of {mixed[r.series_uid]} different patients; series rejected",
            }
            for r in rows
        ],
    )
    session.execute(delete(TriageResult).where(TriageResult.id.in_([r.id for r in rows])))
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(items_succeeded=Job.items_succeeded - len(rows), items_failed=Job.items_failed + len(rows))
    )
    return len(rows)


@dataclass(frozen=True)
class SeriesRow:
    study_uid: str
    series_uid: str
    modality: str | None
    body_part: str | None
    instances: int
    priority_rank: int
    max_probability: float | None
    top_item_index: int
    top_reasons: str
    flagged: int  # instances with any quality flag


def worklist_series(session: Session, job_id: uuid.UUID) -> list[SeriesRow]:
    """Per-series aggregates plus the reasons of each series' highest-scoring instance (a window function
    picks it, so one query whatever the number of series)."""
    ranked = (
        select(
            TriageResult.study_uid,
            TriageResult.series_uid,
            TriageResult.item_index,
            TriageResult.reasons,
            func.row_number()
            .over(
                partition_by=TriageResult.series_uid,
                order_by=(TriageResult.score.desc(), TriageResult.item_index),
            )
            .label("rn"),
        )
        .where(TriageResult.job_id == job_id)
        .subquery()
    )
    top = select(ranked.c.series_uid, ranked.c.item_index, ranked.c.reasons).where(ranked.c.rn == 1).subquery()
    agg = (
        select(
            TriageResult.study_uid,
            TriageResult.series_uid,
            func.max(TriageResult.modality).label("modality"),
            func.max(TriageResult.body_part).label("body_part"),
            func.count().label("instances"),
            func.max(TriageResult.priority_rank).label("priority_rank"),
            func.max(TriageResult.probability).label("max_probability"),
            func.sum(case((TriageResult.quality_flags != "", 1), else_=0)).label("flagged"),
        )
        .where(TriageResult.job_id == job_id)
        .group_by(TriageResult.study_uid, TriageResult.series_uid)
        .subquery()
    )
    rows = session.execute(
        select(agg, top.c.item_index, top.c.reasons).join(top, top.c.series_uid == agg.c.series_uid)
    ).all()
    return [
        SeriesRow(
            study_uid=r.study_uid,
            series_uid=r.series_uid,
            modality=r.modality,
            body_part=r.body_part,
            instances=int(r.instances),
            priority_rank=int(r.priority_rank),
            max_probability=r.max_probability,
            top_item_index=int(r.item_index),
            top_reasons=r.reasons,
            flagged=int(r.flagged or 0),
        )
        for r in rows
    ]


def image(session: Session, job_id: uuid.UUID, item_index: int, kind: str) -> bytes | None:
    column = TriageResult.saliency_png if kind == "saliency" else TriageResult.thumbnail_png
    return session.execute(
        select(column).where(TriageResult.job_id == job_id, TriageResult.item_index == item_index)
    ).scalar_one_or_none()
