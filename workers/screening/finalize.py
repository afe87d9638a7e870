"""Job-end work of the screening domain, run once in the transaction that completes the job.

Duplicate policy (documented in the README): IDs need not be unique and every input row is its own compound,
keyed by its position (item_index). At job end, a row whose ID was already used by an earlier row gets
`duplicate_of` = the item_index of the first row with that ID; a row whose standardized structure (InChIKey)
already appeared gets `same_structure_as` likewise. Input order decides, so the policy is deterministic however
shards were scheduled. Nothing is dropped: a user filters on these columns (e.g. duplicate_of is null).
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from core.settings import get_settings
from db.models.screening import ScreeningDepiction, ScreeningResult

R = ScreeningResult


def finalize_screening_job(session: Session, job_id: uuid.UUID) -> None:
    mark_first_occurrences(session, job_id, R.item_key, R.duplicate_of)
    mark_first_occurrences(session, job_id, R.inchikey, R.same_structure_as)
    top = get_settings().screening_depict_top
    if top > 0:
        depict_top_hits(session, job_id, top)


def mark_first_occurrences(session: Session, job_id: uuid.UUID, key_column: object, target: object) -> None:
    first = func.min(R.item_index).over(partition_by=key_column)  # type: ignore[arg-type]
    groups = (
        select(R.item_index.label("idx"), first.label("first"))
        .where(R.job_id == job_id, key_column.isnot(None))  # type: ignore[attr-defined]
        .subquery()
    )
    session.execute(
        update(R)
        .where(and_(R.job_id == job_id, R.item_index == groups.c.idx, groups.c.first != groups.c.idx))
        .values({target: groups.c.first})  # type: ignore[dict-item]
        .execution_options(synchronize_session=False)
    )


def depict_top_hits(session: Session, job_id: uuid.UUID, top: int) -> None:
    from workers.screening.depict import svg_for_smiles

    rows = session.execute(
        select(R.item_index, R.canonical_smiles)
        .where(R.job_id == job_id)
        .order_by(R.score.desc(), R.item_index)
        .limit(top)
    ).all()
    drawings = []
    for index, smiles in rows:
        svg = svg_for_smiles(smiles)
        if svg is not None:
            drawings.append({"job_id": job_id, "item_index": index, "svg": svg})
    if drawings:
        session.execute(insert(ScreeningDepiction), drawings)
