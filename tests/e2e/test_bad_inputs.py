"""Bad inputs over HTTP against the real stack, each with the outcome the README documents: per-item errors for
bad records (the rest of the batch is scored), a 4xx with a message for a bad request (and no job)."""

from __future__ import annotations

import gzip
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.artifacts import artifact_path
from tests.e2e.harness import Stack, accepted, error_body, submit_file, wait_job, walk
from tests.helpers import check_exactly_once

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

# Invalid records by construction; test_mixed_library checks each against RDKit itself before relying on it.
PARSE_ERRORS = ["C1CC", "C(C", "Xx", "CC)C", "c1ccc[nH"]
SANITIZE_ERRORS = ["C(C)(C)(C)(C)C", "c1cccc1", "N(C)(C)(C)C", "O=O=O"]
SMALL_UPLOAD_CAP = 4096


def _parsable_nci(n: int) -> list[tuple[str, str]]:
    from rdkit import Chem, rdBase

    from bench.libraries import nci_molecules

    with rdBase.BlockLogs():  # the NCI set has a few unparsable entries; they are skipped, not logged
        return [(s, f"NCI{i}") for s, i in nci_molecules() if Chem.MolFromSmiles(s) is not None][:n]


def _rdkit_outcome(smiles: str) -> str:
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            return "PARSE_ERROR"
        try:
            Chem.SanitizeMol(mol)
        except Chem.MolSanitizeException:
            return "SANITIZE_ERROR"
    return "ok"


def _no_jobs(client: httpx.Client) -> None:
    listing = client.get("/v1/jobs")
    assert listing.status_code == 200 and listing.json()["items"] == [], listing.text


def test_mixed_library_scores_the_valid_records_and_reports_the_invalid_ones(stack: Stack, project: str) -> None:
    from rdkit import Chem

    for smiles in PARSE_ERRORS:
        assert _rdkit_outcome(smiles) == "PARSE_ERROR", smiles
    for smiles in SANITIZE_ERRORS:
        assert _rdkit_outcome(smiles) == "SANITIZE_ERROR", smiles

    # Invalid records spread through 300 valid ones, at known positions.
    rows = _parsable_nci(300)
    bad = [(s, "PARSE_ERROR") for s in PARSE_ERRORS] + [(s, "SANITIZE_ERROR") for s in SANITIZE_ERRORS]
    expected_errors: dict[int, tuple[str, str]] = {}
    for k, (smiles, _code) in enumerate(bad):
        at = 7 + k * 31
        rows.insert(at, (smiles, f"BAD{k}"))
    for index, (_smiles, key) in enumerate(rows):
        if key.startswith("BAD"):
            expected_errors[index] = (key, bad[int(key[3:])][1])
    text = "smiles id\n" + "".join(f"{s} {key}\n" for s, key in rows)

    client = stack.client(project)
    job_id = accepted(submit_file(client, text.encode(), "mixed.smi"))
    job = wait_job(client, job_id, 180, logs=stack.logs)
    assert job["status"] == "succeeded", job
    assert (job["items_total"], job["items_failed"]) == (len(rows), len(bad))
    assert job["items_succeeded"] == len(rows) - len(bad)

    errors = list(walk(client, f"/v1/jobs/{job_id}/errors"))
    assert {e["item_index"]: (e["item_key"], e["code"]) for e in errors} == expected_errors
    assert all(e["message"] for e in errors)
    only_sanitize = client.get(f"/v1/jobs/{job_id}/errors", params={"code": "SANITIZE_ERROR"}).json()["items"]
    assert {e["item_index"] for e in only_sanitize} == {
        i for i, (_, c) in expected_errors.items() if c == "SANITIZE_ERROR"
    }

    results = list(walk(client, f"/v1/jobs/{job_id}/results", {"sort": "item_index", "limit": 1000}))
    valid = [(i, s, key) for i, (s, key) in enumerate(rows) if i not in expected_errors]
    assert [(r["item_index"], r["input_smiles"], r["item_key"]) for r in results] == valid
    for r in results:
        assert r["canonical_smiles"] == Chem.MolToSmiles(Chem.MolFromSmiles(r["input_smiles"]))

    check = check_exactly_once(uuid.UUID(job_id), len(rows))
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0), check


def _sdf(records: list[tuple[str, str]]) -> str:
    from rdkit import Chem

    blocks = []
    for smiles, title in records:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", title)
        blocks.append(Chem.MolToMolBlock(mol) + ">  <source>\nNCI\n\n$$$$\n")
    return "".join(blocks)


def test_truncated_sdf_last_record_is_an_item_error_and_the_others_are_scored(stack: Stack, project: str) -> None:
    records = [(s, key) for s, key in _parsable_nci(60) if s.count("C") >= 6][:5]
    text = _sdf(records)
    # Cut the last record in the middle of its atom block: counts line and half of the atom lines, the last
    # kept atom line itself cut in half, no M  END, no $$$$.
    last_start = text.rindex("$$$$\n", 0, len(text) - 5) + len("$$$$\n")
    last_lines = text[last_start:].splitlines(keepends=True)
    n_atoms = int(last_lines[3][:3])
    assert n_atoms >= 6
    cut = "".join(last_lines[: 4 + n_atoms // 2]) + last_lines[4 + n_atoms // 2][:20]
    truncated = text[:last_start] + cut

    client = stack.client(project)
    job_id = accepted(submit_file(client, truncated.encode(), "library.sdf"))
    job = wait_job(client, job_id, 120, logs=stack.logs)
    assert job["status"] == "succeeded", job
    assert job["input_format"] == "sdf"
    assert (job["items_total"], job["items_succeeded"], job["items_failed"]) == (5, 4, 1)

    errors = client.get(f"/v1/jobs/{job_id}/errors").json()["items"]
    assert [(e["item_index"], e["item_key"], e["code"]) for e in errors] == [(4, records[4][1], "PARSE_ERROR")]
    assert errors[0]["message"]
    results = client.get(f"/v1/jobs/{job_id}/results", params={"sort": "item_index"}).json()["items"]
    assert [(r["item_index"], r["item_key"]) for r in results] == [(i, records[i][1]) for i in range(4)]
    check = check_exactly_once(uuid.UUID(job_id), 5)
    assert (check.lost, check.duplicated, check.unexpected) == (0, 0, 0), check


def test_empty_file_is_422_empty_input_and_creates_no_job(stack: Stack, project: str) -> None:
    client = stack.client(project)
    response = submit_file(client, b"", "empty.smi")
    assert response.status_code == 422
    assert error_body(response)["code"] == "EMPTY_INPUT"
    raw = client.post(
        "/v1/jobs",
        content=b"",
        params={"domain": "screening", "filename": "empty.smi"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert raw.status_code == 422 and error_body(raw)["code"] == "EMPTY_INPUT"
    _no_jobs(client)


def test_binary_file_is_rejected_with_a_message_and_creates_no_job(stack: Stack, project: str) -> None:
    client = stack.client(project)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    for content in (png, gzip.compress(png)):  # compressed or not, the content decides, not the name
        response = submit_file(client, content, "library.smi")
        assert 400 <= response.status_code < 500, response.text
        error = error_body(response)
        assert error["code"] == "INVALID_INPUT" and "binary" in error["message"], error
    _no_jobs(client)
    # The stack is unharmed: a valid upload right after is accepted and completes.
    job_id = accepted(submit_file(client, b"CCO ethanol\nc1ccccc1O phenol\n", "ok.smi"))
    assert wait_job(client, job_id, 120, logs=stack.logs)["status"] == "succeeded"


def _artifact_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_oversized_upload_is_413_and_leaves_no_job_and_no_file(stack: Stack, project: str) -> None:
    from bench.libraries import write_library

    # A second API process on the same database and artifact directory, with a tiny upload cap.
    small = stack.start_api("api-small-cap", max_upload_bytes=str(SMALL_UPLOAD_CAP))
    client = stack.client(project, base_url=small)
    artifacts = stack.data_dir / "artifacts"
    big = write_library(stack.log_dir / "big.smi", 1000).read_bytes()
    assert len(big) > 4 * SMALL_UPLOAD_CAP
    before = _artifact_files(artifacts)

    def chunked() -> Iterator[bytes]:  # no Content-Length: the cap must fire while streaming
        for i in range(0, len(big), 1024):
            yield big[i : i + 1024]

    responses = {
        "multipart": submit_file(client, big, "big.smi"),
        "raw with Content-Length": client.post(
            "/v1/jobs", content=big, params={"domain": "screening"}, headers={"Content-Type": "text/plain"}
        ),
        "raw chunked": client.post(
            "/v1/jobs", content=chunked(), params={"domain": "screening"}, headers={"Content-Type": "text/plain"}
        ),
    }
    for shape, response in responses.items():
        assert response.status_code == 413, (shape, response.status_code, response.text)
        error = error_body(response)
        assert error["code"] == "PAYLOAD_TOO_LARGE" and str(SMALL_UPLOAD_CAP) in error["message"], (shape, error)
    _no_jobs(client)
    assert _artifact_files(artifacts) == before, "a rejected upload left a file behind"
    assert not artifact_path(artifacts.resolve(), hashlib.sha256(big).hexdigest()).exists()

    # Under the cap, the same API accepts and the job completes.
    job_id = accepted(submit_file(client, big[:2000].rsplit(b"\n", 1)[0] + b"\n", "fits.smi"))
    job = wait_job(client, job_id, 120, logs=stack.logs)
    assert job["status"] == "succeeded" and job["items_failed"] == 0, job
    stack.stop("api-small-cap")
