"""Result, item-error and provenance queries, generic over a domain's result table.

Pagination is keyset, never OFFSET: a page costs the same at row 10 and at row 10 million. The tie-breaker
(item_index) runs in the same direction as the sort column, so for a non-null column the cursor is one row-value
comparison that Postgres answers from an index such as (job_id, score, item_index).
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, or_, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from db.base import Base
from db.models import ItemError, Provenance, Shard

_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
FILTER_OPS = frozenset(_OPS)


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool


@dataclass(frozen=True)
class Filter:
    column: str
    op: str  # one of FILTER_OPS
    value: Any  # already coerced to the column's Python type


def column_of(model: type[Base], name: str) -> InstrumentedAttribute[Any]:
    attr = getattr(model, name, None)
    if not isinstance(attr, InstrumentedAttribute):
        raise KeyError(name)
    return attr


def _is_nullable(attr: InstrumentedAttribute[Any]) -> bool:
    return bool(getattr(attr.property.columns[0], "nullable", True))


def _ordered(
    model: type[Base], job_id: uuid.UUID, sort: Sort, filters: Sequence[Filter], columns: Sequence[str]
) -> Select[Any]:
    col = column_of(model, sort.column)
    idx = column_of(model, "item_index")
    wanted = [column_of(model, c) for c in dict.fromkeys([*columns, sort.column, "item_index"])]
    stmt = select(*wanted).where(column_of(model, "job_id") == job_id)
    for f in filters:
        stmt = stmt.where(_OPS[f.op](column_of(model, f.column), f.value))
    if _is_nullable(col):
        # Explicit NULLS LAST: Postgres and SQLite disagree on the default.
        first = col.desc().nulls_last() if sort.descending else col.asc().nulls_last()
    else:
        first = col.desc() if sort.descending else col.asc()
    return stmt.order_by(first, idx.desc() if sort.descending else idx.asc())


def _after(model: type[Base], sort: Sort, value: Any, index: int) -> ColumnElement[bool]:
    col = column_of(model, sort.column)
    idx = column_of(model, "item_index")
    beyond = operator.lt if sort.descending else operator.gt
    if not _is_nullable(col):
        return beyond(tuple_(col, idx), tuple_(value, index))
    if value is None:  # already inside the trailing NULL block
        return and_(col.is_(None), beyond(idx, index))
    return or_(beyond(tuple_(col, idx), tuple_(value, index)), col.is_(None))


def page(
    session: Session,
    model: type[Base],
    job_id: uuid.UUID,
    *,
    sort: Sort,
    filters: Sequence[Filter],
    columns: Sequence[str],
    after: tuple[Any, int] | None,
    limit: int,
) -> list[Row[Any]]:
    stmt = _ordered(model, job_id, sort, filters, columns)
    if after is not None:
        stmt = stmt.where(_after(model, sort, after[0], after[1]))
    return list(session.execute(stmt.limit(limit)).all())


def stream(
    session: Session,
    model: type[Base],
    job_id: uuid.UUID,
    *,
    sort: Sort,
    filters: Sequence[Filter],
    columns: Sequence[str],
    batch: int,
) -> Iterator[Sequence[Row[Any]]]:
    """Server-side cursor (psycopg named cursor): memory stays at one batch however many rows the job has."""
    stmt = _ordered(model, job_id, sort, filters, columns)
    result = session.execute(stmt, execution_options={"yield_per": batch})
    yield from result.partitions()


def errors_page(
    session: Session, job_id: uuid.UUID, *, code: str | None, after: int | None, limit: int
) -> list[ItemError]:
    stmt = select(ItemError).where(ItemError.job_id == job_id)
    if code is not None:
        stmt = stmt.where(ItemError.code == code)
    if after is not None:
        stmt = stmt.where(ItemError.item_index > after)
    return list(session.execute(stmt.order_by(ItemError.item_index).limit(limit)).scalars())


def provenance_page(
    session: Session, job_id: uuid.UUID, *, after: int | None, limit: int
) -> list[tuple[Provenance, Shard]]:
    stmt = select(Provenance, Shard).join(Shard, Shard.id == Provenance.shard_id).where(Provenance.job_id == job_id)
    if after is not None:
        stmt = stmt.where(Shard.index > after)
    rows = session.execute(stmt.order_by(Shard.index).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]
