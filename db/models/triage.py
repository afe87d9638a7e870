"""Triage results: one row per scored or checked DICOM instance, de-identified.

Every identifier here is a pseudonym (HMAC of the source value under the project's key): series and studies stay
linked within a project without any patient identifier being stored. Thumbnails are PNGs rendered from the
decoded pixel array only, so no header text can ride along in them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId


class TriageResult(Base):
    __tablename__ = "triage_results"
    __table_args__ = (
        UniqueConstraint("job_id", "item_index"),
        Index("ix_triage_results_job_score", "job_id", "score", "item_index"),
        # The worklist groups a job's instances by study and series.
        Index("ix_triage_results_job_study", "job_id", "study_uid", "series_uid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    shard_id: Mapped[int] = mapped_column(ForeignKey("shards.id", ondelete="CASCADE"), index=True)
    item_index: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str | None] = mapped_column(String(255))
    study_uid: Mapped[str] = mapped_column(String(64))
    series_uid: Mapped[str] = mapped_column(String(64))
    instance_uid: Mapped[str] = mapped_column(String(64))
    patient_pseudonym: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str | None] = mapped_column(String(16))
    body_part: Mapped[str | None] = mapped_column(String(64))
    view_position: Mapped[str | None] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    cols: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str | None] = mapped_column(String(64))
    probability: Mapped[float | None] = mapped_column(Float)
    # high > medium > low > not_scored; rank is the sortable form of the class.
    priority: Mapped[str] = mapped_column(String(16))
    priority_rank: Mapped[int] = mapped_column(SmallInteger)
    # rank + probability: sorts by class first, then by probability within it; -1 when not scored.
    score: Mapped[float] = mapped_column(Float)
    quality_flags: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[str] = mapped_column(Text, default="")
    thumbnail_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    saliency_png: Mapped[bytes | None] = mapped_column(LargeBinary)
