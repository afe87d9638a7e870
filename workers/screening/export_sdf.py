"""SDF export of a screening job's results, written by a worker (RDKit) into the artifact store.

Each record is the standardized parent with 2D coordinates; its title is the user's ID, and every result column
becomes a data item: the scalar columns, each ADMET-AI column, each activity task's mean and std, and the input
record's own fields (SDF data items, extra CSV columns) under their original names unless a result column has
that name. Rows stream from a server-side cursor, so memory stays flat for million-row jobs.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import rdDepictor

from core.artifacts import ArtifactWriter
from core.settings import get_settings
from db.base import utcnow
from db.models.screening import ScreeningResult
from db.repositories import jobs as jobs_repo
from db.repositories import results as results_repo
from db.repositories import screening as screening_repo
from db.repositories.results import Filter, Sort
from db.session import session_factory, unit_of_work
from workers.screening.plugin import EXPORT_COLUMNS

log = logging.getLogger(__name__)

BATCH_ROWS = 2_000
STALE_AFTER = timedelta(hours=2)  # a 'running' export older than this was abandoned by a dead worker
_JSON_COLUMNS = ("admet", "activity_tasks", "properties")
_SKIP = frozenset({"canonical_smiles", "item_key", *_JSON_COLUMNS})


def run_export(export_id: uuid.UUID) -> str:
    with unit_of_work() as session:
        export = screening_repo.claim_export(session, export_id, utcnow() - STALE_AFTER)
        if export is None:
            return "not-claimable"
        job_id, options = export.job_id, dict(export.options)
    settings = get_settings()
    writer = ArtifactWriter(settings.resolved_artifact_dir, settings.max_export_bytes)
    try:
        records = _write(writer, job_id, options)
        stored = writer.commit()
    except Exception as exc:
        writer.abort()
        log.exception("SDF export failed", extra={"job_id": job_id})
        with unit_of_work() as session:
            message = f"{type(exc).__name__}: {exc}"[:500]
            screening_repo.finish_export(session, export_id, records=0, sha256=None, size=None, error=message)
        return "failed"
    with unit_of_work() as session:
        jobs_repo.ensure_artifact(session, stored.sha256, stored.size_bytes)
        screening_repo.finish_export(
            session, export_id, records=records, sha256=stored.sha256, size=stored.size_bytes, error=None
        )
    return "succeeded"


def _write(writer: ArtifactWriter, job_id: uuid.UUID, options: dict[str, Any]) -> int:
    sort = Sort(options["sort"]["column"], bool(options["sort"]["descending"]))
    filters = [Filter(f["column"], f["op"], f["value"]) for f in options.get("filters", [])]
    limit = options.get("limit")
    written = 0
    session = session_factory()()
    try:
        batches = results_repo.stream(
            session, ScreeningResult, job_id, sort=sort, filters=filters, columns=EXPORT_COLUMNS, batch=BATCH_ROWS
        )
        with rdBase.BlockLogs():
            for rows in batches:
                buf = io.StringIO()
                for row in rows:
                    if limit is not None and written >= limit:
                        break
                    block = record(dict(row._mapping))
                    if block is not None:
                        buf.write(block)
                        written += 1
                writer.write(buf.getvalue().encode())
                if limit is not None and written >= limit:
                    break
        session.commit()
    finally:
        session.close()
    return written


def record(row: dict[str, Any]) -> str | None:
    """One SDF record (molblock + data items + $$$$), or None if the stored SMILES no longer parses."""
    mol = Chem.MolFromSmiles(row["canonical_smiles"])
    if mol is None:
        return None
    rdDepictor.Compute2DCoords(mol)
    mol.SetProp("_Name", _one_line(row.get("item_key") or f"item {row['item_index']}"))
    items: dict[str, Any] = {"canonical_smiles": row["canonical_smiles"]}
    items.update((k, v) for k, v in row.items() if k not in _SKIP and v is not None)
    for column, value in (row.get("admet") or {}).items():
        if value is not None:
            items[f"admet_{column}"] = value
    for task, (mean, std) in (row.get("activity_tasks") or {}).items():
        items[f"activity_{task}"] = mean
        items[f"activity_{task}_std"] = std
    for name, value in (row.get("properties") or {}).items():
        items.setdefault(name, value)
    block = Chem.MolToMolBlock(mol)
    data = "".join(f">  <{_tag(k)}>\n{_value(v)}\n\n" for k, v in items.items())
    return f"{block}{data}$$$$\n"


def _tag(name: str) -> str:
    # A data header cannot hold '>' or a newline; the rest of a user's field name is kept.
    return _one_line(str(name)).replace(">", ")").replace("<", "(")


def _value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    # A blank line ends a data item, so blank lines inside a value are dropped.
    return "\n".join(line for line in str(value).splitlines() if line.strip()) or "-"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
