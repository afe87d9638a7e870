"""Literature transport helpers: the job-level pair and chemical tables, document exports, and the compound
library a literature job hands to a screening job."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.enums import AuditAction, JobStatus
from core.errors import Conflict, InvalidInput
from db.models import Job, LiteraturePair
from db.repositories import audit
from db.repositories import literature as repo
from db.session import session_factory
from workers.literature import exports

MAX_PAIRS_LIMIT = 5000


def require_literature(job: Job, *, finished: bool = False) -> None:
    if job.domain != "literature":
        raise InvalidInput(f"this is for literature jobs; this job's domain is {job.domain!r}")
    # The pair and chemical tables are built once every shard is in (finalize): before that they are empty.
    if finished and job.status != JobStatus.succeeded.value:
        raise Conflict(f"the job is {job.status}; job-level tables exist once it has succeeded")


def pair_dict(p: LiteraturePair) -> dict[str, Any]:
    return {c: getattr(p, c) for c in exports.PAIR_COLUMNS}


def pairs_page(session: Session, job: Job, *, min_documents: int, limit: int, offset: int) -> dict[str, Any]:
    require_literature(job)
    total, rows = repo.list_pairs(session, job.id, min_documents=min_documents, limit=limit, offset=offset)
    return {"job_id": job.id, "status": job.status, "total": total, "items": [pair_dict(p) for p in rows]}


def chemicals(session: Session, job: Job, *, with_structure: bool) -> dict[str, Any]:
    require_literature(job)
    rows = repo.list_chemicals(session, job.id, with_structure=with_structure)
    items = [
        {
            "concept_id": c.concept_id,
            "name": c.name,
            "smiles": c.smiles,
            "documents": c.documents,
            "mentions": c.mentions,
        }
        for c in rows
    ]
    return {"job_id": job.id, "status": job.status, "items": items}


@dataclass(frozen=True)
class AnnotationExport:
    job_id: Any
    fmt: str

    @property
    def media_type(self) -> str:
        return exports.FORMATS[self.fmt]

    @property
    def filename(self) -> str:
        suffix = {"bioc-json": "bioc.json", "pubtator": "pubtator.txt"}.get(self.fmt, f"{self.fmt[:-4]}.csv")
        return f"medsieve-{self.job_id}-{suffix}"


def plan_annotation_export(session: Session, job: Job, fmt: str, token_id: int | None) -> AnnotationExport:
    require_literature(job, finished=fmt == "pairs-csv")
    if fmt not in exports.FORMATS:
        raise InvalidInput(f"unknown annotation format {fmt!r}", details={"formats": sorted(exports.FORMATS)})
    audit.record(
        session,
        AuditAction.job_export.value,
        project_id=job.project_id,
        token_id=token_id,
        target=f"job:{job.id}",
        details={"format": fmt},
    )
    return AnnotationExport(job.id, fmt)


def _rows(session: Session, job_id: Any) -> Iterator[dict[str, Any]]:
    for r in repo.iter_documents(session, job_id):
        yield {
            "doc_id": r.doc_id,
            "item_index": r.item_index,
            "passages": r.passages,
            "entities": r.entities,
            "relations": r.relations,
        }


def annotation_chunks(plan: AnnotationExport) -> Iterator[bytes]:
    """Streams from a session of its own (the request's unit of work has committed by now)."""
    with session_factory()() as session:
        if plan.fmt == "pairs-csv":
            _, pairs = repo.list_pairs(session, plan.job_id, limit=10**9)
            text_chunks = exports.pairs_csv(pair_dict(p) for p in pairs)
        elif plan.fmt == "bioc-json":
            text_chunks = exports.bioc_json(_rows(session, plan.job_id))
        elif plan.fmt == "pubtator":
            text_chunks = exports.pubtator(_rows(session, plan.job_id))
        else:
            text_chunks = exports.entities_csv(_rows(session, plan.job_id))
        for chunk in text_chunks:
            yield chunk.encode()


def screening_library(session: Session, job: Job, *, min_documents: int) -> tuple[bytes, int]:
    """CSV (smiles, id, name, documents, mentions) of the job's normalized chemicals that have a structure."""
    require_literature(job, finished=True)
    rows = [c for c in repo.list_chemicals(session, job.id, with_structure=True) if c.documents >= min_documents]
    if not rows:
        raise InvalidInput("no chemical of this job has a known structure; nothing to screen")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["smiles", "id", "name", "documents", "mentions"])
    for c in rows:
        writer.writerow([c.smiles, c.concept_id, c.name, c.documents, c.mentions])
    return buf.getvalue().encode(), len(rows)
