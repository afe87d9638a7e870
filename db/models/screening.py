"""Screening results (one row per compound; sized for millions of rows per job), top-hit depictions, exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, JsonType, UTCDateTime, utcnow


class ScreeningResult(Base):
    __tablename__ = "screening_results"
    __table_args__ = (
        UniqueConstraint("job_id", "item_index"),
        # Top-k by score within a job, ties broken by input order (the keyset cursor uses the same pair).
        Index("ix_screening_results_job_score", "job_id", "score", "item_index"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    shard_id: Mapped[int] = mapped_column(ForeignKey("shards.id", ondelete="CASCADE"), index=True)
    item_index: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str | None] = mapped_column(String(255))
    input_smiles: Mapped[str | None] = mapped_column(Text)
    # Canonical SMILES of the standardized parent (of the input as parsed when standardization is off).
    canonical_smiles: Mapped[str] = mapped_column(Text)
    inchikey: Mapped[str | None] = mapped_column(String(27))
    # What standardization changed, ';'-joined: cleanup, fragments_removed, neutralized, tautomer.
    standardization: Mapped[str | None] = mapped_column(Text)
    mw: Mapped[float] = mapped_column(Float)
    clogp: Mapped[float] = mapped_column(Float)
    hbd: Mapped[int] = mapped_column(Integer)
    hba: Mapped[int] = mapped_column(Integer)
    tpsa: Mapped[float] = mapped_column(Float)
    rotatable_bonds: Mapped[int] = mapped_column(Integer)
    heavy_atoms: Mapped[int | None] = mapped_column(Integer)
    qed: Mapped[float] = mapped_column(Float)
    lipinski_violations: Mapped[int] = mapped_column(Integer)
    passes_filters: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    alert_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    alerts: Mapped[str | None] = mapped_column(Text)  # the filter reasons, '; '-joined
    similarity: Mapped[float | None] = mapped_column(Float)  # max Tanimoto to the job's references
    nearest_reference: Mapped[str | None] = mapped_column(String(255))
    activity: Mapped[float | None] = mapped_column(Float)  # ensemble mean of the ranked task
    activity_std: Mapped[float | None] = mapped_column(Float)  # ensemble spread (population std)
    # Every ADMET-AI column by name, and every model task as {task: [mean, std]}; JSON keeps the table narrow.
    admet: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    activity_tasks: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # The input record's other fields (SDF data items, extra CSV columns), carried to the exports.
    properties: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # Set at job end: item_index of the first row with the same ID / the same InChIKey (input order wins).
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger)
    same_structure_as: Mapped[int | None] = mapped_column(BigInteger)
    score: Mapped[float] = mapped_column(Float)


class ScreeningDepiction(Base):
    """RDKit SVG drawings of a job's top hits, made by the worker at job end (the API never imports RDKit)."""

    __tablename__ = "screening_depictions"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    item_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    svg: Mapped[str] = mapped_column(Text)


class ScreeningExport(Base):
    """An export that needs RDKit (SDF): written by a worker task into the artifact store, then downloaded."""

    __tablename__ = "screening_exports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    records: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
