"""Job submission, HTTP-free: the API routes and the CLI's embedded `medsieve run FILE` both call submit_job.

The caller has already stored the input as a content-addressed artifact. This module validates the request
against the domain plug-in, applies the Idempotency-Key rules and creates the job in the caller's unit of work.
Publishing to the broker is not done here: it must happen after the commit (see services/dispatching.py).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.errors import EmptyInput, UnknownDomain, params_error
from core.artifacts import StoredArtifact
from core.enums import AuditAction, Device, JobStatus
from core.errors import IdempotencyKeyReused, InvalidInput, MedsieveError, ServiceUnavailable
from core.hashing import sha256_json
from core.settings import get_settings
from db.models import Job
from db.repositories import audit
from db.repositories import jobs as jobs_repo
from db.repositories import registry as registry_repo
from workers.domains import available_domains, get_plugin
from workers.plugin import DomainPlugin

MAX_PRIORITY = 9
MAX_NAME_CHARS = 200
MAX_FILENAME_CHARS = 200
MAX_FORMAT_CHARS = 16  # jobs.input_format
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # visible ASCII, as HTTP header values allow


@dataclass(frozen=True)
class SubmitOutcome:
    job: Job
    created: bool  # False: an Idempotency-Key replay returned the existing job


def load_plugin(domain: str) -> DomainPlugin:
    if domain not in available_domains():
        raise UnknownDomain(f"unknown domain {domain!r}", details={"available": available_domains()})
    return get_plugin(domain)


def validate_parameters(plugin: DomainPlugin, raw: Any) -> BaseModel:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput("parameters must be a JSON object")
    try:
        return plugin.params_model.model_validate(raw)
    except ValidationError as exc:
        raise params_error(exc) from exc


def normalize_device(device: str | None) -> str:
    value = (device or get_settings().default_device).strip().lower()
    if value not in {d.value for d in Device}:
        raise InvalidInput(f"device must be one of {[d.value for d in Device]}", details={"device": device})
    return value


def normalize_priority(priority: int | None) -> int:
    value = 0 if priority is None else priority
    if not 0 <= value <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be between 0 and {MAX_PRIORITY}")
    return value


def normalize_name(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"name must be at most {MAX_NAME_CHARS} characters")
    return name


def display_filename(filename: str | None) -> str | None:
    """A user's file name is kept only for display and format hints: no directories, no control characters,
    bounded length. It is never used to build a path (artifacts are addressed by sha256)."""
    if not filename:
        return None
    base = re.split(r"[\\/]", filename)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if cleaned in {"", ".", ".."}:
        return None
    if len(cleaned) > MAX_FILENAME_CHARS:
        _stem, dot, ext = cleaned.rpartition(".")
        keep = ext if dot and len(ext) <= 16 else ""
        cleaned = cleaned[: MAX_FILENAME_CHARS - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return cleaned


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise InvalidInput("Idempotency-Key must be 1-200 visible ASCII characters")
    return key


def detect_format(plugin: DomainPlugin, filename: str | None, head: bytes, params: BaseModel) -> str:
    fmt = plugin.detect_format(filename, head, params)  # raises InvalidInput / UnsupportedMediaType
    if not fmt or len(fmt) > MAX_FORMAT_CHARS:
        raise MedsieveError(f"domain plug-in returned an invalid format name {fmt!r}")
    return fmt


def request_hash(
    *,
    domain: str,
    parameters: dict[str, Any],
    input_sha256: str,
    input_format: str,
    device: str,
    priority: int,
    name: str | None,
) -> str:
    """What an Idempotency-Key promises: the same key may only ever mean this exact request. The input format
    is part of it because the same bytes named a.csv or a.smi are read differently."""
    return sha256_json(
        {
            "domain": domain,
            "parameters": parameters,
            "input_sha256": input_sha256,
            "input_format": input_format,
            "device": device,
            "priority": priority,
            "name": name,
        }
    )


def _replay(existing: Job, request_sha256: str) -> SubmitOutcome:
    if existing.request_sha256 != request_sha256:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request",
            details={"job_id": str(existing.id)},
        )
    return SubmitOutcome(existing, created=False)


def pin_models(session: Session, project_id: uuid.UUID, normalized: dict[str, Any]) -> dict[str, Any]:
    """A job naming a registered model must find it in its own project (422 otherwise), and an unversioned
    reference is pinned to today's latest version, so every shard of the job uses the same weights."""
    activity = normalized.get("activity")
    if not isinstance(activity, dict):
        return normalized
    model = registry_repo.get(session, project_id, activity["model"], activity.get("version"))
    if model is None:
        which = f"version {activity['version']!r}" if activity.get("version") else "any version"
        raise InvalidInput(f"activity.model: no model {activity['model']!r} ({which}) is registered in this project")
    task = activity.get("task")
    if task is not None and task not in model.tasks:
        raise InvalidInput(f"activity.task: model {model.name!r} has no task {task!r}", details={"tasks": model.tasks})
    return {**normalized, "activity": {**activity, "version": model.version}}


def submit_job(
    session: Session,
    *,
    project_id: uuid.UUID,
    domain: str,
    parameters: dict[str, Any] | None,
    artifact: StoredArtifact,
    input_format: str | None,
    filename: str | None,
    idempotency_key: str | None,
    name: str | None,
    priority: int | None,
    device: str | None,
    token_id: int | None,
) -> SubmitOutcome:
    """Validates and creates a queued job (or returns the one an Idempotency-Key already created).
    `input_format=None` asks the plug-in to detect it from the file name and the artifact's first bytes."""
    plugin = load_plugin(domain)
    params = validate_parameters(plugin, parameters)
    normalized = pin_models(session, project_id, params.model_dump(mode="json"))
    device = normalize_device(device)
    priority = normalize_priority(priority)
    name = normalize_name(name)
    filename = display_filename(filename)
    idempotency_key = check_idempotency_key(idempotency_key)
    if artifact.size_bytes == 0:
        raise EmptyInput("the input is empty")
    fmt = input_format or detect_format(plugin, filename, artifact.head, params)
    digest = request_hash(
        domain=domain,
        parameters=normalized,
        input_sha256=artifact.sha256,
        input_format=fmt,
        device=device,
        priority=priority,
        name=name,
    )

    if idempotency_key is not None:
        existing = jobs_repo.get_by_idempotency_key(session, project_id, idempotency_key)
        if existing is not None:
            return _replay(existing, digest)

    jobs_repo.ensure_artifact(session, artifact.sha256, artifact.size_bytes)
    if not artifact.path.is_file():
        # The sweeper purged these very bytes (an ended job's identifiable input) between our write and the row
        # lock we now hold; the client's retry writes the file again.
        raise ServiceUnavailable("the upload collided with the clean-up of an identical earlier input; retry")
    job = Job(
        id=uuid.uuid4(),
        project_id=project_id,
        domain=domain,
        name=name,
        status=JobStatus.queued.value,
        device=device,
        priority=priority,
        parameters=normalized,
        idempotency_key=idempotency_key,
        request_sha256=digest,
        input_sha256=artifact.sha256,
        input_format=fmt,
        input_filename=None if plugin.identifiable_input else filename,
        input_bytes=artifact.size_bytes,
    )
    try:
        # A savepoint: losing the race on (project_id, idempotency_key) must not undo the artifact row.
        with session.begin_nested():
            jobs_repo.add(session, job)
    except IntegrityError:
        if idempotency_key is None:
            raise
        winner = jobs_repo.get_by_idempotency_key(session, project_id, idempotency_key)
        if winner is None:
            raise
        return _replay(winner, digest)

    audit.record(
        session,
        AuditAction.job_submit.value,
        project_id=project_id,
        token_id=token_id,
        target=f"job:{job.id}",
        details={"domain": domain, "input_sha256": artifact.sha256, "input_bytes": artifact.size_bytes, "format": fmt},
    )
    return SubmitOutcome(job, created=True)
