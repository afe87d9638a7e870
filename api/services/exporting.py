"""Streaming export of a job's results. Memory stays at one batch of rows whatever the job's size: rows come
from a server-side cursor; CSV is encoded batch by batch and Parquet is written one row group per batch straight
into the response (Parquet writes sequentially, the footer last, so no temp file is needed)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Boolean, DateTime, Float, Integer, Numeric, String, Text, Uuid
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from api.services.results import parse_filters, parse_sort
from core.enums import AuditAction
from core.errors import InvalidInput
from db.base import Base
from db.models import Job
from db.repositories import audit
from db.repositories import results as results_repo
from db.repositories.results import Filter, Sort, column_of
from db.session import session_factory
from workers.domains import get_plugin

EXPORT_FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
BATCH_ROWS = 5_000


@dataclass(frozen=True)
class ExportPlan:
    job_id: uuid.UUID
    model: type[Base]
    sort: Sort
    filters: list[Filter]
    columns: tuple[str, ...]
    fmt: str

    @property
    def media_type(self) -> str:
        return EXPORT_FORMATS[self.fmt]

    @property
    def filename(self) -> str:
        # Built only from the job's UUID and a fixed suffix: safe in a header and on any file system.
        return f"medsieve-{self.job_id}-results.{self.fmt}"


def plan_export(
    session: Session, job: Job, *, fmt: str, sort: str | None, filters: Sequence[str], token_id: int | None
) -> ExportPlan:
    """Validates the request and records the audit event (in the caller's unit of work, before streaming)."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}", details={"formats": sorted(EXPORT_FORMATS)})
    plugin = get_plugin(job.domain)
    plan = ExportPlan(
        job_id=job.id,
        model=plugin.result_model,
        sort=parse_sort(plugin, sort),
        filters=parse_filters(plugin, filters),
        columns=tuple(plugin.export_columns),
        fmt=fmt,
    )
    audit.record(
        session,
        AuditAction.job_export.value,
        project_id=job.project_id,
        token_id=token_id,
        target=f"job:{job.id}",
        details={"format": fmt, "sort": sort, "filters": list(filters)},
    )
    return plan


def _batches(plan: ExportPlan, batch_rows: int) -> Iterator[Sequence[Any]]:
    """Its own session: the request's unit of work has already committed when streaming starts."""
    session = session_factory()()
    try:
        yield from results_repo.stream(
            session,
            plan.model,
            plan.job_id,
            sort=plan.sort,
            filters=plan.filters,
            columns=plan.columns,
            batch=batch_rows,
        )
        session.commit()
    finally:
        session.close()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value


def csv_chunks(plan: ExportPlan, batch_rows: int | None = None) -> Iterator[bytes]:
    batch_rows = batch_rows or BATCH_ROWS
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(plan.columns)
    for rows in _batches(plan, batch_rows):
        for row in rows:
            m = row._mapping
            writer.writerow([_csv_cell(m[c]) for c in plan.columns])
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
    tail = buf.getvalue()
    if tail:
        yield tail.encode()


def _arrow_type(model: type[Base], name: str) -> pa.DataType:
    sqltype = column_of(model, name).type
    if isinstance(sqltype, TypeDecorator):
        sqltype = sqltype.impl_instance
    if isinstance(sqltype, Boolean):
        return pa.bool_()
    if isinstance(sqltype, Integer):
        return pa.int64()
    if isinstance(sqltype, Float | Numeric):
        return pa.float64()
    if isinstance(sqltype, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(sqltype, String | Text | Uuid):
        return pa.string()
    return pa.string()  # JSON and anything exotic: serialized text


def arrow_schema(plan: ExportPlan) -> pa.Schema:
    return pa.schema([pa.field(c, _arrow_type(plan.model, c)) for c in plan.columns])


class _Chunks(io.RawIOBase):
    """A write-only sink that hands over what Parquet has written so far."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _arrow_value(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(kind) and not isinstance(value, str):
        return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return value


def parquet_chunks(plan: ExportPlan, batch_rows: int | None = None) -> Iterator[bytes]:
    batch_rows = batch_rows or BATCH_ROWS  # one Parquet row group per batch
    schema = arrow_schema(plan)
    kinds = [schema.field(c).type for c in plan.columns]
    sink = _Chunks()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        wrote_any = False
        for rows in _batches(plan, batch_rows):
            columns = {
                c: [_arrow_value(r._mapping[c], kind) for r in rows]
                for c, kind in zip(plan.columns, kinds, strict=True)
            }
            writer.write_table(pa.table(columns, schema=schema))
            wrote_any = True
            yield sink.drain()
        if not wrote_any:
            writer.write_table(schema.empty_table())
    finally:
        writer.close()
    yield sink.drain()


def chunks(plan: ExportPlan) -> Iterator[bytes]:
    return csv_chunks(plan) if plan.fmt == "csv" else parquet_chunks(plan)
