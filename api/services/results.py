"""Reading a job's results, item errors and provenance: sort/filter parsing against the domain plug-in's
declared columns, and keyset cursors. Export streaming lives in services/exporting.py."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api.errors import InvalidCursor
from api.schemas import ErrorsPage, ItemErrorOut, ProvenanceOut, ProvenancePage, ResultsPage
from api.services import cursors
from core.errors import InvalidInput
from db.base import Base
from db.models import Job
from db.repositories import results as results_repo
from db.repositories.results import FILTER_OPS, Filter, Sort, column_of
from workers.domains import get_plugin
from workers.plugin import DomainPlugin

MAX_RESULTS_LIMIT = 1000
MAX_FILTERS = 16


def parse_sort(plugin: DomainPlugin, sort: str | None) -> Sort:
    spec = (sort or plugin.default_sort).strip()
    descending = spec.startswith("-")
    name = spec.lstrip("-")
    if name not in plugin.sort_columns:
        raise InvalidInput(f"cannot sort by {name!r}", details={"sortable": list(plugin.sort_columns), "sort": sort})
    return Sort(name, descending)


def sort_text(sort: Sort) -> str:
    return ("-" if sort.descending else "") + sort.column


def _python_type(model: type[Base], name: str) -> type:
    try:
        return column_of(model, name).type.python_type
    except NotImplementedError:
        return str


def _coerce(model: type[Base], name: str, raw: str) -> Any:
    kind = _python_type(model, name)
    if kind is bool:
        if raw.lower() in {"true", "1"}:
            return True
        if raw.lower() in {"false", "0"}:
            return False
        raise ValueError(raw)
    if kind is float:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(raw)
        return value
    if kind is datetime:
        return datetime.fromisoformat(raw)
    if kind in (int, str):
        return kind(raw)
    raise ValueError(raw)


def parse_filters(plugin: DomainPlugin, raw_filters: Sequence[str]) -> list[Filter]:
    """`col:op:value`; the value may itself contain ':'."""
    if len(raw_filters) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters")
    parsed = []
    for raw in raw_filters:
        col, sep1, rest = raw.partition(":")
        op, sep2, value = rest.partition(":")
        if not (sep1 and sep2):
            raise InvalidInput(f"filter {raw!r} is not col:op:value")
        if col not in plugin.filter_columns:
            raise InvalidInput(f"cannot filter on {col!r}", details={"filterable": list(plugin.filter_columns)})
        if op not in FILTER_OPS:
            raise InvalidInput(f"unknown filter operator {op!r}", details={"operators": sorted(FILTER_OPS)})
        try:
            parsed.append(Filter(col, op, _coerce(plugin.result_model, col, value)))
        except ValueError as exc:
            raise InvalidInput(f"filter value {value!r} does not fit column {col!r}") from exc
    return parsed


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _cursor_value(model: type[Base], name: str, value: Any) -> Any:
    if value is None or _python_type(model, name) is not datetime:
        return value
    return datetime.fromisoformat(value)


def _decode_results_cursor(model: type[Base], sort: Sort, cursor: str) -> tuple[Any, int]:
    payload = cursors.decode(cursor)
    if payload.get("s") != sort_text(sort):
        raise InvalidCursor("cursor belongs to another sort order; start again without a cursor")
    index = payload.get("i")
    if not isinstance(index, int) or "v" not in payload:
        raise InvalidCursor("malformed cursor")
    try:
        return _cursor_value(model, sort.column, payload["v"]), index
    except (TypeError, ValueError) as exc:
        raise InvalidCursor("malformed cursor") from exc


def results_page(
    session: Session, job: Job, *, sort: str | None, filters: Sequence[str], cursor: str | None, limit: int
) -> ResultsPage:
    plugin = get_plugin(job.domain)
    order = parse_sort(plugin, sort)
    where = parse_filters(plugin, filters)
    after = _decode_results_cursor(plugin.result_model, order, cursor) if cursor else None
    columns = list(plugin.export_columns)
    rows = results_repo.page(
        session,
        plugin.result_model,
        job.id,
        sort=order,
        filters=where,
        columns=columns,
        after=after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]._mapping
        next_cursor = cursors.encode(
            {"s": sort_text(order), "v": jsonable(last[order.column]), "i": int(last["item_index"])}
        )
    items = [{c: jsonable(r._mapping[c]) for c in columns} for r in rows]
    return ResultsPage(items=items, next_cursor=next_cursor, sort=sort_text(order), columns=columns)


def _int_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    value = cursors.decode(cursor).get("i")
    if not isinstance(value, int):
        raise InvalidCursor("malformed cursor")
    return value


def errors_page(session: Session, job: Job, *, code: str | None, cursor: str | None, limit: int) -> ErrorsPage:
    rows = results_repo.errors_page(session, job.id, code=code, after=_int_cursor(cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ErrorsPage(
        items=[
            ItemErrorOut(
                item_index=e.item_index, item_key=e.item_key, code=e.code, message=e.message, shard_id=e.shard_id
            )
            for e in rows
        ],
        next_cursor=cursors.encode({"i": rows[-1].item_index}) if more and rows else None,
    )


def provenance_page(session: Session, job: Job, *, cursor: str | None, limit: int) -> ProvenancePage:
    rows = results_repo.provenance_page(session, job.id, after=_int_cursor(cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        ProvenanceOut(
            shard_id=shard.id,
            shard_index=shard.index,
            item_start=shard.item_start,
            item_count=shard.item_count,
            code_version=p.code_version,
            model_name=p.model_name,
            model_version=p.model_version,
            model_sha256=p.model_sha256,
            package_versions=p.package_versions,
            parameters=p.parameters,
            input_sha256=p.input_sha256,
            host=p.host,
            device=p.device,
            timings=p.timings,
            components=p.components or [],
            created_at=p.created_at,
        )
        for p, shard in rows
    ]
    return ProvenancePage(items=items, next_cursor=cursors.encode({"i": rows[-1][1].index}) if more and rows else None)
