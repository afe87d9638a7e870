"""The caller's project's registered activity models: read only.

There is deliberately no POST, PUT or DELETE here. A Chemprop checkpoint is a Python pickle, and loading one runs
whatever code it carries inside every screening worker that uses it; accepting checkpoints over the API would hand
code execution on the workers to anyone holding a project token. Models are registered by a trusted operator on a
host with database access (`medsieve models register-chemprop`), which pins each file by sha256; workers verify
those digests before loading. The API only shows what was registered, scoped to the token's project: another
project's model is reported exactly like a missing one (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy.orm import Session

from api.auth import CredentialsDep
from api.deps import authorized
from api.routes import API_PREFIX
from api.schemas import (
    ErrorResponse,
    ModelList,
    ModelMemberOut,
    ModelVersions,
    RegisteredModelDetail,
    RegisteredModelOut,
)
from api.services.projects import Principal
from core.errors import NotFound
from db.models import RegisteredModel
from db.repositories import registry

router = APIRouter(prefix=API_PREFIX)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No model of that name in the caller's project"}
}


@router.get("/models", response_model=ModelList, summary="The project's registered activity models")
async def list_models(request: Request, credentials: CredentialsDep) -> ModelList:
    def work(session: Session, who: Principal) -> ModelList:
        return ModelList(items=[_summary(row) for row in registry.list(session, who.project_id)])

    return await authorized(request, credentials, work)


@router.get(
    "/models/{name}",
    response_model=ModelVersions,
    responses=NOT_FOUND,
    summary="Every registered version of one model, newest first, with its member checkpoints' digests",
)
async def get_model(
    name: Annotated[str, Path(min_length=1, max_length=100)], request: Request, credentials: CredentialsDep
) -> ModelVersions:
    def work(session: Session, who: Principal) -> ModelVersions:
        rows = registry.list(session, who.project_id, name=name)
        if not rows:
            raise NotFound(f"no model {name!r} in this project")
        versions = [
            RegisteredModelDetail(
                **_summary(row).model_dump(), members=[ModelMemberOut.model_validate(m) for m in row.members]
            )
            for row in rows
        ]
        return ModelVersions(name=name, versions=versions)

    return await authorized(request, credentials, work)


def _summary(row: RegisteredModel) -> RegisteredModelOut:
    return RegisteredModelOut(
        name=row.name,
        version=row.version,
        kind=row.kind,
        sha256=row.sha256,
        tasks=list(row.tasks),
        task_type=row.task_type,
        n_members=row.n_members,
        description=row.description,
        created_at=row.created_at,
    )
