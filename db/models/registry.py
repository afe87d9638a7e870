"""Registered user models (Chemprop activity checkpoints), one row per (project, name, version).

Rows are written only by the operator CLI (`medsieve models register-chemprop`): a checkpoint is a pickle, so
registering one is trusting it to run code in the workers. The API reads these rows and never writes them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, JsonType, UTCDateTime, utcnow


class RegisteredModel(Base):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(32))  # "chemprop"
    # Of the ensemble: sha256 over the members' hex digests in order (see workers.screening.activity).
    sha256: Mapped[str] = mapped_column(String(64))
    # [{"sha256", "bytes", "filename"}] in ensemble order; the files live in the artifact store by sha256.
    # filename is the operator's base name, for humans only; nothing is ever read by it.
    members: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    tasks: Mapped[list[str]] = mapped_column(JsonType)
    task_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def n_members(self) -> int:
        return len(self.members)


__all__ = ["RegisteredModel"]
