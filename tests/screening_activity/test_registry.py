"""The model registry on the real PostgreSQL: operator CLI registration, artifact store, audit, worker-side
resolution with digest checks, and the read-only API scoped to the caller's project."""

from __future__ import annotations

import getpass
import json
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.api.conftest import Api, assert_error, make_token, unique
from tests.screening_activity.conftest import Trained

pytest.importorskip("chemprop")
pytestmark = pytest.mark.postgres


def cli(*args: str) -> Any:
    from cli.main import app

    return CliRunner().invoke(app, ["models", *args], catch_exceptions=False)


def register(project: str, name: str, version: str, *paths: Path, extra: tuple[str, ...] = ()) -> Any:
    return cli(
        "register-chemprop", "--project", project, "--name", name, "--version", version, *extra, *map(str, paths)
    )


def project_id(name: str) -> uuid.UUID:
    from db.repositories import projects
    from db.session import unit_of_work

    with unit_of_work() as session:
        found = projects.get_by_name(session, name)
        assert found is not None
        return found.id


def sha(path: Path) -> str:
    from workers.screening.activity import sha256_hex

    return sha256_hex(path.read_bytes())


def test_register_store_audit_resolve_and_api_scope(make_api: Callable[..., Api], trained: Trained) -> None:
    from core.artifacts import artifact_path
    from db.models import Artifact
    from db.repositories import audit, registry
    from db.session import unit_of_work
    from workers.screening.activity import (
        ActivityEnsemble,
        ActivityModelError,
        ensemble_sha256,
        registry_resolver,
        resolve_model,
    )

    api = make_api()
    other = unique("other")
    other_token = make_token(other)
    pid = project_id(api.project)
    members = [trained.logp_a, trained.logp_b]

    out = register(api.project, "logp", "1", *members, extra=("--by", "alice", "--description", "Crippen logP"))
    assert out.exit_code == 0, out.output
    expected_sha = ensemble_sha256([sha(p) for p in members])
    assert out.stdout.strip().splitlines()[-1] == expected_sha

    # The same name again, by project id, one member, default operator: a new version.
    out = register(str(pid), "logp", "2", trained.logp_a, extra=("--json",))
    assert out.exit_code == 0, out.output
    v2 = json.loads(out.stdout)
    assert v2["n_members"] == 1 and v2["registered_by"] == getpass.getuser()

    with unit_of_work() as session:
        row = registry.get(session, pid, "logp", "1")
        assert row is not None
        assert (row.kind, row.sha256, row.tasks, row.task_type) == ("chemprop", expected_sha, ["logp"], "regression")
        assert row.members == [{"sha256": sha(p), "bytes": p.stat().st_size, "filename": p.name} for p in members]
        assert (row.description, row.registered_by) == ("Crippen logP", "alice")
        events = audit.for_target(session, "model:logp@1", "model.register")
        assert len(events) == 1 and events[0].project_id == pid and events[0].details["sha256"] == expected_sha
        assert events[0].details["registered_by"] == "alice"
        for path in members:
            stored = artifact_path(api.data_dir / "artifacts", sha(path))
            assert stored.read_bytes() == path.read_bytes()
            assert session.get(Artifact, sha(path)) is not None
        latest = registry.get(session, pid, "logp")
        assert latest is not None and latest.version == "2"

    # Duplicate (project, name, version): refused, nothing added.
    out = register(api.project, "logp", "1", trained.logp_b)
    assert out.exit_code != 0 and "already registered" in out.output
    with unit_of_work() as session:
        assert len(registry.list(session, pid)) == 2
        assert len(audit.for_target(session, "model:logp@1", "model.register")) == 1

    out = cli("list", "--project", api.project, "--json")
    assert out.exit_code == 0, out.output
    assert [(m["name"], m["version"]) for m in json.loads(out.stdout)] == [("logp", "2"), ("logp", "1")]
    out = cli("list", "--project", api.project)
    assert out.exit_code == 0 and "logp" in out.stdout and expected_sha[:12] in out.stdout

    # Worker side: the latest or a named version, verified files; another project's model does not exist.
    with unit_of_work() as session:
        row, paths = resolve_model(session, pid, "logp", "1", artifact_root=api.data_dir / "artifacts")
        assert paths == [artifact_path(api.data_dir / "artifacts", sha(p)) for p in members]
        with pytest.raises(ActivityModelError, match="no activity model 'logp'") as missing:
            resolve_model(session, project_id(other), "logp", None)
        assert missing.value.code == "MODEL_NOT_FOUND"
    info, latest_paths = registry_resolver(pid, "logp", None)
    assert (info.name, info.version, info.sha256) == ("logp", "2", v2["sha256"])
    assert latest_paths == [artifact_path(api.data_dir / "artifacts", sha(trained.logp_a))]
    from rdkit import Chem

    mols = [Chem.MolFromSmiles(s) for s in trained.eval_smiles[:10]]
    assert (ActivityEnsemble.load(paths).predict(mols)[0] == ActivityEnsemble.load(members).predict(mols)[0]).all()

    # API: read only, scoped to the token's project.
    r = api.client.get("/v1/models", headers=api.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(m["name"], m["version"], m["n_members"]) for m in items] == [("logp", "2", 1), ("logp", "1", 2)]
    assert items[1]["sha256"] == expected_sha and items[1]["tasks"] == ["logp"]
    assert items[1]["task_type"] == "regression" and items[1]["description"] == "Crippen logP"
    assert items[1]["kind"] == "chemprop" and "registered_by" not in items[1]
    r = api.client.get("/v1/models/logp", headers=api.headers)
    assert r.status_code == 200, r.text
    versions = r.json()["versions"]
    assert [v["version"] for v in versions] == ["2", "1"]
    assert [m["sha256"] for m in versions[1]["members"]] == [sha(p) for p in members]

    other_headers = {"Authorization": f"Bearer {other_token}"}
    r = api.client.get("/v1/models", headers=other_headers)
    assert r.status_code == 200 and r.json() == {"items": []}
    assert_error(api.client.get("/v1/models/logp", headers=other_headers), 404, "NOT_FOUND")
    assert_error(api.client.get("/v1/models/nope", headers=api.headers), 404, "NOT_FOUND")
    assert_error(api.client.get("/v1/models"), 401)
    assert api.client.post("/v1/models", headers=api.headers).status_code == 405


def test_tampered_artifact_is_refused_before_unpickling(
    make_api: Callable[..., Api], trained: Trained, tmp_path: Path
) -> None:
    from core.artifacts import artifact_path
    from db.session import unit_of_work
    from workers.screening.activity import ActivityEnsemble, ActivityModelError, resolve_model

    api = make_api()
    assert register(api.project, "arom", "1", trained.arom_n).exit_code == 0
    stored = artifact_path(api.data_dir / "artifacts", sha(trained.arom_n))
    marker = tmp_path / "unpickled"
    stored.write_bytes(pickle.dumps(_WritesMarker(str(marker))))  # a checkpoint swapped for hostile code

    with unit_of_work() as session, pytest.raises(ActivityModelError, match="refusing to load") as refused:
        resolve_model(session, project_id(api.project), "arom", "1", artifact_root=api.data_dir / "artifacts")
    assert refused.value.code == "MODEL_INTEGRITY"
    # Loading a store path directly also checks it against the digest its path names.
    with pytest.raises(ActivityModelError, match="does not match the registered") as refused:
        ActivityEnsemble.load([stored])
    assert refused.value.code == "MODEL_INTEGRITY"
    assert not marker.exists()

    # The stand-in really is live code: unpickling it (what the digest check prevented) runs it.
    pickle.loads(stored.read_bytes())
    assert marker.read_text() == "unpickled"


def test_register_refuses_bad_input(make_api: Callable[..., Api], trained: Trained, tmp_path: Path) -> None:
    from db.repositories import registry
    from db.session import unit_of_work

    api = make_api()
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")

    out = register(api.project, "m", "1", junk)
    assert out.exit_code == 2 and "junk.pt: not a Chemprop" in out.output
    out = register(api.project, "m", "1", trained.logp_a, trained.arom_n)
    assert out.exit_code == 2 and "disagree on tasks" in out.output
    out = register(api.project, "a/b", "1", trained.logp_a)
    assert out.exit_code == 2 and "--name" in out.output
    out = register(unique("missing"), "m", "1", trained.logp_a)
    assert out.exit_code == 4 and "no project" in out.output
    with unit_of_work() as session:
        assert registry.list(session, project_id(api.project)) == []
    assert not (api.data_dir / "artifacts").exists() or not any((api.data_dir / "artifacts").rglob("*"))


class _WritesMarker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (Path(self.path), "unpickled"))
