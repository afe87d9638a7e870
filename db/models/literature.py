"""Literature results: one row per document (entities and relations as JSON), plus the job-level tables that
finalize fills once every shard is in: chemical-disease pairs and the job's chemicals with their structures."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, JsonType


class LiteratureResult(Base):
    __tablename__ = "literature_results"
    __table_args__ = (
        UniqueConstraint("job_id", "item_index"),
        Index("ix_literature_results_job_score", "job_id", "score", "item_index"),
        # The pair table links PMIDs to their documents: look them up without scanning the job.
        Index("ix_literature_results_job_doc", "job_id", "doc_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    shard_id: Mapped[int] = mapped_column(ForeignKey("shards.id", ondelete="CASCADE"), index=True)
    item_index: Mapped[int] = mapped_column(BigInteger)
    item_key: Mapped[str | None] = mapped_column(String(255))
    doc_id: Mapped[str] = mapped_column(String(255))  # PMID for PubMed sources
    source: Mapped[str] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(Text)
    journal: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(String(64))
    n_chars: Mapped[int] = mapped_column(Integer)
    n_sentences: Mapped[int] = mapped_column(Integer)
    # Over-long text: a sentence needed several model windows or the text exceeded the chunking threshold.
    chunked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    chemical_count: Mapped[int] = mapped_column(Integer)
    disease_count: Mapped[int] = mapped_column(Integer)
    gene_count: Mapped[int] = mapped_column(Integer)
    relation_count: Mapped[int] = mapped_column(Integer)
    unmatched_count: Mapped[int] = mapped_column(Integer)  # chemical/disease mentions without a MeSH id
    # Highest CID relation score in the document (0 when none): ranks documents with strong evidence first.
    score: Mapped[float] = mapped_column(Float)
    # The passages as parsed (kind, offset, text): entity offsets point into them; the exports rebuild from here.
    passages: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    relations: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)


class LiteraturePair(Base):
    """Job-level chemical-induced-disease pairs: how many documents support each, with their PMIDs."""

    __tablename__ = "literature_pairs"
    __table_args__ = (Index("ix_literature_pairs_job_docs", "job_id", "documents"),)

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    chemical_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    disease_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    chemical_name: Mapped[str] = mapped_column(Text)
    disease_name: Mapped[str] = mapped_column(Text)
    documents: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[float] = mapped_column(Float)
    mean_score: Mapped[float] = mapped_column(Float)
    doc_ids: Mapped[list[str]] = mapped_column(JsonType)


class LiteratureChemical(Base):
    """The job's normalized chemicals; those with a structure can become a screening library in one call."""

    __tablename__ = "literature_chemicals"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    concept_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    smiles: Mapped[str | None] = mapped_column(Text)
    documents: Mapped[int] = mapped_column(Integer)
    mentions: Mapped[int] = mapped_column(Integer)
