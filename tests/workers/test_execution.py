"""The execution flow (ingest -> shards -> finalize) with a real Celery worker in process, on real Postgres
and on SQLite (the embedded default). Exactly-once effects under duplicates, cancellation, poison shards."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.helpers import check_exactly_once, job_row, submit_file, wait_job

BAD = ["C1CC", "CN(C)(C)(C)C", "not_a_smiles"]  # unclosed ring, pentavalent N, garbage


def _library(tmp_path: Path, n_good: int = 40) -> tuple[Path, int, int]:
    from bench.libraries import iter_library

    lines = ["smiles id"]
    rows = list(iter_library(n_good))
    for i, (smi, ident) in enumerate(rows):
        lines.append(f"{smi} {ident}")
        if i % 15 == 3 and BAD:
            lines.append(f"{BAD[(i // 15) % len(BAD)]} bad{i}")
    path = tmp_path / "lib.smi"
    path.write_text("\n".join(lines) + "\n")
    n_total = len(lines) - 1
    return path, n_total, n_total - n_good


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest, configure_env):
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        configure_env(database_url=url, shard_size="7")
    else:
        from db.migrate import upgrade

        configure_env(shard_size="7")
        upgrade()
    return request.param


@pytest.fixture()
def embedded_worker(backend):
    from workers.embedded import EmbeddedWorker

    with EmbeddedWorker(sweep_interval=0.5) as worker:
        yield worker


def test_job_runs_to_completion_with_item_errors(tmp_path: Path, embedded_worker) -> None:
    from api.services.dispatching import dispatch_ingest
    from db.models import ItemError, Provenance, Shard
    from db.session import unit_of_work

    path, n_total, n_bad = _library(tmp_path)
    job_id = submit_file(path)
    dispatch_ingest(job_id, "screening")
    job = wait_job(job_id)
    assert job.status == "succeeded", job.error_message
    assert job.items_total == n_total
    assert job.shards_total == -(-n_total // 7) == job.shards_done
    check = check_exactly_once(job_id, n_total)
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0)
    assert check.errors == n_bad
    with unit_of_work() as s:
        codes = set(s.execute(select(ItemError.code).where(ItemError.job_id == job_id)).scalars())
        prov = s.execute(select(Provenance).where(Provenance.job_id == job_id)).scalars().all()
        statuses = set(s.execute(select(Shard.status).where(Shard.job_id == job_id)).scalars())
    assert codes <= {"PARSE_ERROR", "SANITIZE_ERROR"} and "SANITIZE_ERROR" in codes
    assert statuses == {"succeeded"}
    assert len(prov) == job.shards_total
    p = prov[0]
    assert p.model_name == "rdkit-descriptors" and len(p.model_sha256) == 64
    assert p.input_sha256 and p.host and p.device == "cpu" and "rdkit" in p.package_versions
    assert p.code_version.startswith("0.1.0")
    assert "compute_s" in p.timings


def test_duplicate_deliveries_write_once(tmp_path: Path, backend) -> None:
    from db.models import ScreeningResult, Shard
    from db.session import unit_of_work
    from workers.runtime import get_pipeline
    from workers.services import shard_runner
    from workers.services.ingest import ingest_job

    path, n_total, _ = _library(tmp_path, 20)
    job_id = submit_file(path)
    ingest_job(job_id)
    with unit_of_work() as s:
        shard_ids = s.execute(select(Shard.id).where(Shard.job_id == job_id).order_by(Shard.index)).scalars().all()
    # Two deliveries of the same shard both claim it (the second as a redelivery while the first still runs)...
    first = shard_runner._claim(shard_ids[0], "a")
    second = shard_runner._claim(shard_ids[0], "b")
    assert not isinstance(first, str) and not isinstance(second, str)
    assert second.attempt == 2
    pipeline = get_pipeline("screening", "cpu")
    out1 = pipeline.run(first.items, _params())
    out2 = pipeline.run(second.items, _params())
    # ...but only the first commit writes; the second finds the shard closed.
    assert shard_runner._commit(first, out1, ScreeningResult, 0.0, 0.0) == "succeeded"
    assert shard_runner._commit(second, out2, ScreeningResult, 0.0, 0.0) == "duplicate"
    # A delivery after success is refused at the claim.
    assert shard_runner.run_shard(shard_ids[0], "c") == "already-closed"
    for sid in shard_ids[1:]:
        assert shard_runner.run_shard(sid, "w") == "succeeded"
    check = check_exactly_once(job_id, n_total)
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0)
    job = job_row(job_id)
    assert job.status == "succeeded" and job.shards_done == job.shards_total


def _params():
    from workers.domains import get_plugin

    return get_plugin("screening").params_model()


def test_cancel_stops_further_shards(tmp_path: Path, backend) -> None:
    from api.services.dispatching import dispatch_ingest
    from db.models import Job, Shard
    from db.session import unit_of_work
    from workers.services.ingest import ingest_job

    path, _, _ = _library(tmp_path, 60)
    job_id = submit_file(path)
    # Ingest without a worker running, so every shard is still queued when the job is cancelled.
    ingest_job(job_id)
    with unit_of_work() as s:
        s.execute(update(Job).where(Job.id == job_id).values(status="cancelled"))
    from workers.embedded import EmbeddedWorker

    with EmbeddedWorker(sweep_interval=0.2):
        dispatch_ingest(job_id, "screening")
        import time

        time.sleep(1.5)
    with unit_of_work() as s:
        statuses = set(s.execute(select(Shard.status).where(Shard.job_id == job_id)).scalars())
    assert "succeeded" not in statuses
    assert job_row(job_id).items_succeeded == 0


def test_poison_shard_ends_failed_and_the_rest_completes(tmp_path: Path, backend) -> None:
    from core.settings import get_settings
    from db.models import ItemError, Shard
    from db.session import unit_of_work
    from workers.services.ingest import ingest_job
    from workers.services.shard_runner import run_shard

    path, n_total, _ = _library(tmp_path, 30)
    job_id = submit_file(path)
    ingest_job(job_id)
    with unit_of_work() as s:
        ids = s.execute(select(Shard.id).where(Shard.job_id == job_id).order_by(Shard.index)).scalars().all()
        # As if it had killed its worker on every earlier delivery.
        s.execute(
            update(Shard)
            .where(Shard.id == ids[0])
            .values(attempts=get_settings().max_shard_attempts, status="running", error="WorkerLostError")
        )
    for sid in ids:
        run_shard(sid, "w")
    job = job_row(job_id)
    assert job.status == "succeeded"
    check = check_exactly_once(job_id, n_total)
    assert (check.lost, check.duplicated) == (0, 0)
    with unit_of_work() as s:
        poisoned = s.execute(select(ItemError).where(ItemError.shard_id == ids[0])).scalars().all()
    assert len(poisoned) == 7 and {e.code for e in poisoned} == {"SHARD_FAILED"}
    assert "WorkerLostError" in poisoned[0].message


def test_empty_and_binary_inputs_fail_the_job_with_a_reason(tmp_path: Path, backend) -> None:
    from workers.services.ingest import ingest_job

    only_header = tmp_path / "empty.smi"
    only_header.write_text("smiles id\n\n# nothing here\n")
    job_id = submit_file(only_header)
    ingest_job(job_id)
    job = job_row(job_id)
    assert (job.status, job.error_code) == ("failed", "EMPTY_INPUT")


def test_sweeper_publishes_jobs_whose_publish_never_happened(tmp_path: Path, embedded_worker) -> None:
    # No dispatch_ingest call: the job row is the outbox and the sweeper (recover pass + grace) must send it.
    from workers.services import sweeper

    path, n_total, _ = _library(tmp_path, 10)
    job_id = submit_file(path)
    sweeper.sweep_once(recover_all=True)
    job = wait_job(job_id, timeout=60)
    assert job.status == "succeeded"
    assert check_exactly_once(job_id, n_total).lost == 0
