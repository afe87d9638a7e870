"""Tenancy and API robustness against the real `medsieve serve` process, driven by its own /openapi.json.

- Schemathesis, authenticated as project A: every operation fuzzed with valid and invalid inputs (no 5xx; invalid
  inputs get a 4xx), then stateful sequences through the links Schemathesis infers from the schema (POST
  /v1/jobs -> GET /v1/jobs/{job_id} -> results, exports, cancel ...).
- Project B's token with project A's real job, export and model ids in every path: always the answer a
  nonexistent id gets (404), never A's data, never a 5xx.
- A request cannot choose its project, status or owner; a message carries ids only, so a worker can only take
  the project from the job row.
- After all of it, the API process never imported RDKit, torch, pydicom, transformers or Biopython: it runs with
  PYTHONPROFILEIMPORTTIME=1, so every import it ever made is in its log.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Stack, accepted, running_stack, wait_job
from tests.reliability.conftest import project_id_of

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.timeout(420)]

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES_PER_OPERATION = 15
HEAVY_MODULES = ("rdkit", "torch", "pydicom", "transformers", "Bio", "chemprop", "admet_ai")


@dataclass
class Tenants:
    stack: Stack
    a: httpx.Client
    b: httpx.Client
    a_token: str
    b_token: str
    a_project: str
    b_project: str
    a_job: str
    a_export: str
    a_model: str


def _register_model(project: str, name: str) -> None:
    """A registry row as `medsieve models register-chemprop` writes it (the weights are never read here)."""
    from db.models import RegisteredModel
    from db.session import unit_of_work

    with unit_of_work() as session:
        session.add(
            RegisteredModel(
                project_id=project_id_of(project),
                name=name,
                version="1",
                kind="chemprop",
                sha256="0" * 64,
                members=[{"sha256": "0" * 64, "bytes": 1, "filename": "m.ckpt"}],
                tasks=["activity"],
                task_type="regression",
                registered_by="test",
            )
        )


@pytest.fixture(scope="module")
def tenants(pg_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    root = tmp_path_factory.mktemp("tenancy")
    with running_stack(pg_url, amqp_url, root, api=False, workers=1) as stack:
        stack.env["PYTHONPROFILEIMPORTTIME"] = "1"  # the API only: every import it makes goes to its log
        stack.start_api()
        suffix = uuid.uuid4().hex[:8]
        a_project, b_project = f"fuzz-a-{suffix}", f"fuzz-b-{suffix}"
        a_token, b_token = stack.token(a_project), stack.token(b_project)
        a = httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {a_token}"}, timeout=60)
        b = httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {b_token}"}, timeout=60)
        stack.clients += [a, b]
        a_job = accepted(a.post("/v1/jobs", json={"domain": "screening", "items": ["CCO", "c1ccccc1O", "CCN"]}))
        assert wait_job(a, a_job, 180, logs=stack.logs)["status"] == "succeeded"
        export = a.post(f"/v1/jobs/{a_job}/exports", json={"format": "sdf"})
        assert export.status_code == 202, export.text
        model = f"a-model-{suffix}"
        _register_model(a_project, model)
        assert b.post("/v1/jobs", json={"domain": "screening", "items": ["CCC"]}).status_code == 202
        yield Tenants(stack, a, b, a_token, b_token, a_project, b_project, a_job, export.json()["id"], model)


def _with_domains(node: Any) -> None:
    """The served schema leaves `domain` a free string (the API answers UNKNOWN_DOMAIN with the list) and the domain
    parameters open; telling the generator valid values lets it create real jobs, so the stateful phase can follow
    their links. The stateless phase still sends invalid ones (negative mode)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(props.get("domain"), dict):
            props["domain"] = {**props["domain"], "enum": ["screening", "triage"]}
            # Domain parameters are validated by the domain (any unknown key is 422): empty ones are valid.
            if isinstance(props.get("parameters"), dict):
                kind = props["parameters"].get("type")
                props["parameters"] = {"type": "string", "enum": ["{}"]} if kind == "string" else {"const": {}}
        for value in node.values():
            _with_domains(value)
    elif isinstance(node, list):
        for value in node:
            _with_domains(value)


def _schema(t: Tenants) -> Any:
    raw = httpx.get(f"{t.stack.base_url}/openapi.json", timeout=30).json()
    _with_domains(raw)
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=t.stack.base_url)
    # Our own Authorization header on every call, not generated ones.
    schema.config.generation.update(with_security_parameters=False)
    return schema


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _settings(examples: int) -> Any:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )


def _for_cases(strategy: Any, examples: int, call: Callable[[Any], None]) -> None:
    """Runs `call` on `examples` cases drawn from a Schemathesis strategy (Hypothesis shrinks a failure)."""

    @hypothesis.given(case=strategy)
    @_settings(examples)
    def run(case: Any) -> None:
        call(case)

    # Negative mode for an operation with nothing to make invalid (no parameters, no body) is unsatisfiable.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


def test_fuzz_every_operation_as_project_a(tenants: Tenants) -> None:
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import negative_data_rejection

    schema = _schema(tenants)
    auth = {"Authorization": f"Bearer {tenants.a_token}"}
    calls: dict[str, int] = {}
    for operation in _operations(schema):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = [not_a_server_error] + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])
            key = f"{operation.method.upper()} {operation.path} {mode.value}"

            def call(case: Any, checks: list[Any] = checks, key: str = key) -> None:
                response = case.call(headers=auth)
                calls[key] = calls.get(key, 0) + 1
                case.validate_response(response, checks=checks, headers=auth)

            _for_cases(operation.as_strategy(generation_mode=mode), EXAMPLES_PER_OPERATION, call)
    print(f"\nfuzzed {len(calls)} operation/mode pairs, {sum(calls.values())} calls")
    assert len(calls) >= 18 + 12, sorted(calls)


def test_stateful_sequences_as_project_a(tenants: Tenants) -> None:
    from schemathesis.checks import not_a_server_error

    schema = _schema(tenants)
    auth = {"Authorization": f"Bearer {tenants.a_token}"}
    base = schema.as_state_machine()
    steps: list[str] = []

    class Workflow(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            steps.append(f"{case.method} {case.path}")
            case.validate_response(response, checks=[not_a_server_error], headers=auth)

    Workflow.run(settings=hypothesis.settings(_settings(40), stateful_step_count=6))
    followed = {s for s in steps if "{job_id}" in s}
    print(f"\nstateful: {len(steps)} calls, linked operations reached: {sorted(followed)}")
    assert followed, "no link from POST /v1/jobs was followed"


def _paths_with_ids(t: Tenants, job_id: str, export_id: str, model: str) -> list[tuple[str, str, dict[str, Any]]]:
    job = f"/v1/jobs/{job_id}"
    return [
        ("GET", job, {}),
        ("GET", f"{job}/results", {}),
        ("GET", f"{job}/results", {"sort": "mw", "limit": 5}),
        ("GET", f"{job}/export", {"format": "csv"}),
        ("GET", f"{job}/export", {"format": "parquet"}),
        ("GET", f"{job}/errors", {}),
        ("GET", f"{job}/provenance", {}),
        ("GET", f"{job}/hits", {"k": 5}),
        ("GET", f"{job}/structures/0.svg", {}),
        ("GET", f"{job}/worklist", {}),
        ("GET", f"{job}/images/0/thumbnail.png", {}),
        ("GET", f"{job}/exports/{export_id}", {}),
        ("GET", f"{job}/exports/{export_id}/file", {}),
        ("POST", f"{job}/exports", {}),
        ("POST", f"{job}/cancel", {}),
        ("GET", f"/v1/models/{model}", {}),
    ]


def _masked(text: str, job_id: str, export_id: str, model: str) -> str:
    return text.replace(job_id, "<job>").replace(export_id, "<export>").replace(model, "<model>")


def _ids(path: str) -> tuple[str, str, str]:
    """(job id, export id, model name) named by a path; a placeholder that never occurs where a path has none."""
    none = "\x00absent"
    parts = path.split("/")
    job = parts[3] if parts[2] == "jobs" else none
    export = parts[5] if len(parts) > 5 and parts[4] == "exports" else none
    model = parts[3] if parts[2] == "models" else none
    return job, export, model


def test_project_b_gets_404_for_every_id_of_project_a(tenants: Tenants) -> None:
    t = tenants
    real = _paths_with_ids(t, t.a_job, t.a_export, t.a_model)
    fake = _paths_with_ids(t, str(uuid.uuid4()), str(uuid.uuid4()), f"missing-{uuid.uuid4().hex[:6]}")
    # Sanity: these ids are real for A (so B's 404 is not trivial); A may get 404/409/422 where the route
    # does not apply to a screening job or the export is still being written.
    a_status = {
        path: t.a.request(m, path, params=p, json={"format": "sdf"} if m == "POST" else None).status_code
        for m, path, p in real[:8]
    }
    assert all(s == 200 for s in a_status.values()), a_status
    for (method, path, params), (_m, fake_path, _p) in zip(real, fake, strict=True):
        body = {"format": "sdf"} if method == "POST" else None
        got = t.b.request(method, path, params=params, json=body)
        none = t.b.request(method, fake_path, params=params, json=body)
        assert got.status_code == 404, (method, path, got.status_code, got.text[:300])
        assert none.status_code == 404 and got.json()["error"]["code"] == "NOT_FOUND", (path, got.text)
        # Word for word the answer for an id that does not exist (the message may echo the id that was asked).
        assert _masked(got.text, t.a_job, t.a_export, t.a_model) == _masked(none.text, *_ids(fake_path)), path
    # And the fuzzed version: B's token, A's ids in the path, any query parameters.
    schema = _schema(t)
    auth = {"Authorization": f"Bearer {t.b_token}"}
    ids = {"job_id": t.a_job, "export_id": t.a_export, "name": t.a_model, "item_index": 0}
    seen: dict[int, int] = {}
    for operation in _operations(schema):
        names = {p.name for p in operation.path_parameters}
        if not names:
            continue

        def call(case: Any, names: set[str] = names) -> None:
            case.path_parameters = {**(case.path_parameters or {}), **{n: ids[n] for n in names if n in ids}}
            response = case.call(headers=auth)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            # 404, or a 4xx for the request's own shape that a nonexistent id would get too; never A's data.
            assert response.status_code in (404, 413, 415, 422), (case.path, response.status_code, response.text)
            if response.status_code != 404:
                other = dict(case.path_parameters)
                other.update({k: str(uuid.uuid4()) for k in ("job_id", "export_id") if k in other})
                case.path_parameters = other
                assert case.call(headers=auth).status_code == response.status_code

        _for_cases(operation.as_strategy(), 10, call)
    print(f"\nproject B with project A's ids: status counts {seen}")
    assert 404 in seen and not any(code < 400 or code >= 500 for code in seen)


def test_a_request_cannot_choose_its_project_status_or_owner(tenants: Tenants) -> None:
    from db.models import Job
    from db.session import unit_of_work

    t = tenants
    b_id = str(project_id_of(t.b_project))
    for field, value in (("project", t.b_project), ("project_id", b_id), ("owner", "root"), ("status", "succeeded")):
        r = t.a.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"], field: value})
        assert r.status_code == 422 and field in json.dumps(r.json()["error"]["details"]), (field, r.text)
        r = t.a.post(
            "/v1/jobs", data={"domain": "screening", field: value}, files={"file": ("a.smi", b"CCO\n", "text/plain")}
        )
        assert r.status_code == 422 and field in r.json()["error"]["message"], (field, r.text)
    # Query parameters a raw upload does not know are ignored: the job is the caller's, queued like any other.
    r = t.a.post(
        "/v1/jobs",
        params={"domain": "screening", "project": t.b_project, "project_id": b_id, "owner": "x", "status": "succeeded"},
        content=b"CCO\nCCN\n",
        headers={"Content-Type": "text/plain"},
    )
    job_id = accepted(r)
    with unit_of_work() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None and str(job.project_id) == str(project_id_of(t.a_project))
    assert r.json()["status"] == "queued"
    assert t.b.get(f"/v1/jobs/{job_id}").status_code == 404


def test_messages_carry_ids_only(pg_url: str, amqp_url: str, tmp_path: Path, vhost_url: str) -> None:
    """The worker takes the project from the job row because the message has nothing else to give it."""
    from kombu import Connection

    from workers.celery_app import declare_topology, get_app, queue_name

    with running_stack(pg_url, vhost_url, tmp_path, api=True, workers=0) as stack:
        declare_topology(get_app())  # what a worker does at start; no worker consumes here
        client = stack.client(f"msg-{uuid.uuid4().hex[:8]}")
        job_id = accepted(client.post("/v1/jobs", json={"domain": "screening", "items": ["CCO"]}))
        with Connection(vhost_url) as conn:
            message = None
            for _ in range(50):
                message = conn.default_channel.basic_get(queue_name("screening", "cpu"), no_ack=True)
                if message is not None:
                    break
                time.sleep(0.1)
        assert message is not None
        args, kwargs, _embed = json.loads(message.body)
        assert args == [job_id] and kwargs == {}
        body = message.body if isinstance(message.body, str) else message.body.decode()
        raw = body + json.dumps(dict(message.headers or {}), default=str)
        assert "project" not in raw.lower()


def test_the_api_process_never_imported_heavy_libraries(tenants: Tenants) -> None:
    """Runs last in this module: by now every route was exercised many times."""
    log = tenants.stack.procs["api"].log.read_text(errors="replace")
    imported = {
        line.rsplit("|", 1)[1].strip() for line in log.splitlines() if line.startswith("import time:") and "|" in line
    }
    assert len(imported) > 100, "PYTHONPROFILEIMPORTTIME did not reach the API process"
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY_MODULES)
    assert heavy == [], heavy
