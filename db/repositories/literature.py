"""Queries of the literature domain: per-document rows for aggregation and export, the job-level pair and
chemical tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from db.models import LiteratureChemical, LiteraturePair, LiteratureResult


def iter_annotations(session: Session, job_id: uuid.UUID, batch: int = 1000) -> Iterator[tuple[str, list, list]]:
    """(doc_id, entities, relations) of every document of the job, streamed in input order."""
    stmt = (
        select(LiteratureResult.doc_id, LiteratureResult.entities, LiteratureResult.relations)
        .where(LiteratureResult.job_id == job_id)
        .order_by(LiteratureResult.item_index)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(stmt):
        yield row.doc_id, row.entities, row.relations


def iter_documents(session: Session, job_id: uuid.UUID, batch: int = 500) -> Iterator[LiteratureResult]:
    """Whole result rows (passages, entities, relations) for the document exports, in input order."""
    stmt = (
        select(LiteratureResult)
        .where(LiteratureResult.job_id == job_id)
        .order_by(LiteratureResult.item_index)
        .execution_options(yield_per=batch)
    )
    yield from session.scalars(stmt)


def replace_job_tables(
    session: Session, job_id: uuid.UUID, pairs: Sequence[dict[str, Any]], chemicals: Sequence[dict[str, Any]]
) -> None:
    """Idempotent: a re-run of finalize (a redelivered completing shard) rewrites the same rows."""
    session.execute(delete(LiteraturePair).where(LiteraturePair.job_id == job_id))
    session.execute(delete(LiteratureChemical).where(LiteratureChemical.job_id == job_id))
    if pairs:
        session.execute(insert(LiteraturePair), [{"job_id": job_id, **p} for p in pairs])
    if chemicals:
        session.execute(insert(LiteratureChemical), [{"job_id": job_id, **c} for c in chemicals])


def list_pairs(
    session: Session, job_id: uuid.UUID, *, min_documents: int = 1, limit: int = 1000, offset: int = 0
) -> tuple[int, list[LiteraturePair]]:
    where = (LiteraturePair.job_id == job_id, LiteraturePair.documents >= min_documents)
    total = session.scalar(select(func.count()).select_from(LiteraturePair).where(*where)) or 0
    rows = session.scalars(
        select(LiteraturePair)
        .where(*where)
        .order_by(
            LiteraturePair.documents.desc(),
            LiteraturePair.max_score.desc(),
            LiteraturePair.chemical_id,
            LiteraturePair.disease_id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return total, list(rows)


def list_chemicals(session: Session, job_id: uuid.UUID, *, with_structure: bool = False) -> list[LiteratureChemical]:
    stmt = select(LiteratureChemical).where(LiteratureChemical.job_id == job_id)
    if with_structure:
        stmt = stmt.where(LiteratureChemical.smiles.is_not(None))
    stmt = stmt.order_by(LiteratureChemical.documents.desc(), LiteratureChemical.concept_id)
    return list(session.scalars(stmt).all())
