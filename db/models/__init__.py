"""All tables, imported here so Alembic and `Base.metadata` see every one."""

from db.models.core import (
    ApiToken,
    Artifact,
    AuditEvent,
    ItemError,
    Job,
    Project,
    Provenance,
    Shard,
    ShardInput,
)
from db.models.literature import LiteratureChemical, LiteraturePair, LiteratureResult
from db.models.registry import RegisteredModel
from db.models.screening import ScreeningDepiction, ScreeningExport, ScreeningResult
from db.models.triage import TriageResult

__all__ = [
    "ApiToken",
    "Artifact",
    "AuditEvent",
    "ItemError",
    "Job",
    "LiteratureChemical",
    "LiteraturePair",
    "LiteratureResult",
    "Project",
    "Provenance",
    "RegisteredModel",
    "ScreeningDepiction",
    "ScreeningExport",
    "ScreeningResult",
    "Shard",
    "ShardInput",
    "TriageResult",
]
