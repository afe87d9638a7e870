"""Screening results: one row per compound; sized for millions of rows per job."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId


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
    canonical_smiles: Mapped[str] = mapped_column(Text)
    mw: Mapped[float] = mapped_column(Float)
    clogp: Mapped[float] = mapped_column(Float)
    hbd: Mapped[int] = mapped_column(Integer)
    hba: Mapped[int] = mapped_column(Integer)
    tpsa: Mapped[float] = mapped_column(Float)
    rotatable_bonds: Mapped[int] = mapped_column(Integer)
    qed: Mapped[float] = mapped_column(Float)
    lipinski_violations: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
