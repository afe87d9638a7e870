"""API test harness: the real app (create_app) on the real PostgreSQL, driven through FastAPI's TestClient.

Each test gets its own project(s) (the database is shared by the session). The broker defaults to the
embedded in-memory transport (publishes succeed in process, nothing consumes them); tests that are about the
broker pass a real RabbitMQ vhost or a closed port.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import PLATFORM_SCREENING

pytestmark = pytest.mark.postgres

CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1//"


@dataclass
class Api:
    client: TestClient
    token: str
    project: str
    data_dir: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def new_token(self, project: str | None = None) -> str:
        return make_token(project or self.project)

    def submit_inline(
        self, items: list[Any] | None = None, headers: dict[str, str] | None = None, **fields: Any
    ) -> Any:
        fields["parameters"] = {**PLATFORM_SCREENING, **fields.get("parameters", {})}
        body = {"domain": "screening", "items": items or ["CCO", "c1ccccc1"], **fields}
        return self.client.post("/v1/jobs", json=body, headers={**self.headers, **(headers or {})})


def make_token(project: str, name: str = "test") -> str:
    from api.services.projects import create_token
    from db.session import unit_of_work

    with unit_of_work() as session:
        return create_token(session, project, name)


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


SMI = b"CCO ethanol\nc1ccccc1 benzene\nCC(=O)O acetic\n"


def stored_files(api: Api) -> list[Path]:
    root = api.data_dir / "artifacts"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def job_row(job_id: str):  # type: ignore[no-untyped-def]
    from db.models import Job
    from db.session import unit_of_work

    with unit_of_work() as session:
        return session.get(Job, uuid.UUID(job_id))


def assert_error(r, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture()
def make_api(pg_url: str, configure_env: Callable[..., Path]) -> Iterator[Callable[..., Api]]:
    """make_api(broker_url=..., **settings) -> Api with a fresh project and token."""
    clients: list[TestClient] = []

    def build(broker_url: str = "", database_url: str | None = None, **extra: Any) -> Api:
        data_dir = configure_env(database_url=database_url or pg_url, broker_url=broker_url, **extra)
        from api.app import create_app

        project = unique()
        token = make_token(project) if database_url is None else "ms_unused"
        client = TestClient(create_app())
        clients.append(client)
        return Api(client=client, token=token, project=project, data_dir=data_dir)

    yield build
    for client in clients:
        client.close()


@pytest.fixture()
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
