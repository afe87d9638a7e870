"""Direct inserts of the rows workers would write (shards, results, item errors, provenance), so the read side
of the API is tested on known data. Goes through the real models and the real database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update

from db.base import utcnow
from db.models import ItemError, Job, Provenance, ScreeningResult, Shard
from db.session import unit_of_work


def add_shards(job_id: uuid.UUID, statuses: Sequence[str], size: int = 10) -> list[int]:
    ids = []
    with unit_of_work() as session:
        for i, status in enumerate(statuses):
            shard = Shard(job_id=job_id, index=i, item_start=i * size, item_count=size, status=status)
            session.add(shard)
            session.flush()
            ids.append(shard.id)
    return ids


def set_job(job_id: uuid.UUID, **values: Any) -> None:
    with unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def screening_row(job_id: uuid.UUID, shard_id: int, index: int, score: float, **over: Any) -> dict[str, Any]:
    row = {
        "job_id": job_id,
        "shard_id": shard_id,
        "item_index": index,
        "item_key": f"id-{index}",
        "input_smiles": "C" * (1 + index % 5),
        "canonical_smiles": "C" * (1 + index % 5),
        "mw": 16.0 + index,
        "clogp": 0.5 * (index % 7) - 1.0,
        "hbd": index % 3,
        "hba": index % 4,
        "tpsa": 10.0 + (index % 11),
        "rotatable_bonds": index % 6,
        "qed": score,
        "lipinski_violations": index % 2,
        "inchikey": None,
        "standardization": "fragments_removed" if index % 4 == 0 else None,
        "heavy_atoms": 1 + index % 5,
        "passes_filters": index % 3 != 0,
        "alert_count": 0 if index % 3 else 1,
        "alerts": None if index % 3 else "brenk: example",
        "similarity": None if index % 5 == 0 else (index % 10) / 10,
        "nearest_reference": None if index % 5 == 0 else "ref1",
        "activity": None,
        "activity_std": None,
        "admet": {"hERG": (index % 7) / 7},
        "activity_tasks": None,
        "properties": {"source": f"row {index}"},
        "duplicate_of": None,
        "same_structure_as": None,
        "score": score,
    }
    row.update(over)
    return row


def add_results(rows: Sequence[dict[str, Any]]) -> None:
    with unit_of_work() as session:
        session.execute(insert(ScreeningResult), list(rows))


def add_errors(job_id: uuid.UUID, shard_id: int, errors: Sequence[tuple[int, str]]) -> None:
    with unit_of_work() as session:
        session.execute(
            insert(ItemError),
            [
                {
                    "job_id": job_id,
                    "shard_id": shard_id,
                    "item_index": index,
                    "item_key": f"id-{index}",
                    "code": code,
                    "message": f"{code} at {index}",
                }
                for index, code in errors
            ],
        )


def add_provenance(job_id: uuid.UUID, shard_id: int, host: str = "host-a", at: datetime | None = None) -> None:
    with unit_of_work() as session:
        session.add(
            Provenance(
                job_id=job_id,
                shard_id=shard_id,
                code_version="0.1.0+test",
                model_name="rdkit-descriptors",
                model_version="2026.3.6",
                model_sha256="ab" * 32,
                package_versions={"rdkit": "2026.3.6"},
                parameters={"admet": False},
                input_sha256="cd" * 32,
                host=host,
                device="cpu",
                timings={"compute_ms": 12.5},
                created_at=at or utcnow(),
            )
        )
