"""A screening job with the full pipeline over HTTP against the real stack (API + worker processes, PostgreSQL,
RabbitMQ): standardization, filters (flag and drop), similarity, ranking, duplicates, top hits with drawings,
the SDF export made by a worker, and project isolation of all of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Stack, accepted, submit_file, wait_job

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

# Real drugs (structures as in PubChem). Gefitinib and erlotinib are the references (EGFR inhibitors); the
# library holds one of them again as a salt with another ID, a duplicated ID, a rhodanine PAINS hit and bad rows.
GEFITINIB = "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"
ERLOTINIB = "COCCOc1cc2ncnc(Nc3cccc(c3)C#C)c2cc1OCCOC"
LIBRARY = [
    ("CC(=O)Oc1ccccc1C(=O)O", "aspirin", "analgesic"),
    (GEFITINIB + ".Cl", "gefitinib-hcl", "kinase"),  # salt: standardized to the reference's parent
    ("COc1cc2ncnc(Nc3cccc(Cl)c3)c2cc1OC", "AG-1478", "kinase"),  # EGFR tool compound, close analog
    ("Cn1cnc2c1c(=O)n(C)c(=O)n2C", "caffeine", "stimulant"),
    ("O=C1NC(=S)SC1=Cc1ccccc1", "rhodanine-5", "pains"),  # ene_rhod PAINS A
    ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "ibuprofen", "nsaid"),
    ("CC(C)Cc1ccc(cc1)C(C)C(=O)[O-].[Na+]", "ibuprofen", "nsaid"),  # duplicate ID and structure
    ("C1CC", "broken", "bad"),
    ("CN(C)(C)(C)C", "pentavalent", "bad"),
]


def _csv() -> bytes:
    return ("smiles,id,class\n" + "".join(f"{s},{i},{c}\n" for s, i, c in LIBRARY)).encode()


PARAMS = {
    "standardize": {"enabled": True},
    "similarity": {"references": [{"smiles": GEFITINIB, "id": "gefitinib"}, {"smiles": ERLOTINIB, "id": "erlotinib"}]},
    "filters": {"families": ["pains_a", "pains_b", "pains_c"], "mode": "flag"},
}


def _wait_export(client: httpx.Client, url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"export did not finish: {body}")


def test_full_screening_job_ranks_exports_and_isolates(stack: Stack, project: str, tmp_path: Path) -> None:
    from rdkit import Chem

    client = stack.client(project)
    job_id = accepted(submit_file(client, _csv(), "library.csv", parameters=PARAMS))
    job = wait_job(client, job_id, 180, logs=stack.logs)
    assert job["status"] == "succeeded", job
    assert job["counts"]["items_succeeded"] == 7 and job["counts"]["items_failed"] == 2

    rows = {r["item_index"]: r for r in client.get(f"/v1/jobs/{job_id}/results", params={"limit": 100}).json()["items"]}
    gef = rows[1]
    assert gef["canonical_smiles"] == Chem.CanonSmiles(GEFITINIB) and gef["standardization"] == "fragments_removed"
    assert gef["similarity"] == 1.0 and gef["nearest_reference"] == "gefitinib"
    assert gef["properties"] == {"class": "kinase"}
    assert 0.3 < rows[2]["similarity"] < 1.0
    assert rows[4]["passes_filters"] is False and rows[4]["alerts"].startswith("pains_a: ene_rhod")
    # Duplicate policy: the later row points at the first row with the same ID / the same parent structure.
    assert rows[6]["duplicate_of"] == 5 and rows[6]["same_structure_as"] == 5
    assert rows[5]["duplicate_of"] is None and rows[1]["duplicate_of"] is None

    hits = client.get(f"/v1/jobs/{job_id}/hits", params={"k": 3}).json()
    assert [h["rank"] for h in hits["items"]] == [1, 2, 3]
    assert [h["item_key"] for h in hits["items"][:2]] == ["gefitinib-hcl", "AG-1478"]
    scores = [h["score"] for h in hits["items"]]
    assert scores == sorted(scores, reverse=True)
    svg = client.get(hits["items"][0]["structure_url"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith("<svg") and "<script" not in svg.text

    started = client.post(f"/v1/jobs/{job_id}/exports", json={"format": "sdf", "filters": ["passes_filters:eq:true"]})
    assert started.status_code == 202, started.text
    export = _wait_export(client, f"/v1/jobs/{job_id}/exports/{started.json()['id']}")
    assert export["status"] == "succeeded" and export["records"] == 6, export
    sdf = client.get(export["download_url"])
    assert sdf.status_code == 200
    mols = _read_sdf(sdf.content)
    assert mols[0].GetProp("_Name") == "gefitinib-hcl"  # ranked order: score descending
    first = mols[0]
    assert Chem.MolToSmiles(first) == Chem.CanonSmiles(GEFITINIB)
    assert first.GetProp("nearest_reference") == "gefitinib" and float(first.GetProp("similarity")) == 1.0
    assert first.GetProp("class") == "kinase" and first.HasProp("inchikey")
    assert "rhodanine-5" not in {m.GetProp("_Name") for m in mols}

    # The CLI does the same in one command: start the export, wait for the worker, download.
    out = tmp_path / "hits.sdf"
    cli = subprocess.run(
        [sys.executable, "-m", "cli.main", "results", job_id, "-o", str(out), "--sort", "-similarity", "--json"],
        env={**os.environ, "MEDSIEVE_API_URL": stack.base_url, "MEDSIEVE_API_TOKEN": stack.token(project)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert json.loads(cli.stdout)["records"] == 7
    assert _read_sdf(out.read_bytes())[0].GetProp("_Name") == "gefitinib-hcl"

    # Another project sees none of it.
    other = stack.client(project + "-other")
    for path in (
        f"/v1/jobs/{job_id}/hits",
        hits["items"][0]["structure_url"],
        f"/v1/jobs/{job_id}/exports/{export['id']}",
        export["download_url"],
    ):
        assert other.get(path).status_code == 404, path
    assert other.post(f"/v1/jobs/{job_id}/exports", json={"format": "sdf"}).status_code == 404


def _read_sdf(data: bytes) -> list:
    from rdkit import Chem

    supplier = Chem.SDMolSupplier()
    supplier.SetData(data.decode())
    return [m for m in supplier if m is not None]


def test_bad_chemistry_in_parameters_fails_the_job_with_its_name(stack: Stack, project: str) -> None:
    client = stack.client(project)
    params = {"filters": {"exclude_smarts": ["[C;X5"]}, "admet": False}
    job = wait_job(client, accepted(submit_file(client, _csv(), "library.csv", parameters=params)), 60)
    assert job["status"] == "failed" and job["error_code"] == "INVALID_PARAMETERS", job
    assert "[C;X5" in job["error_message"]
    params = {"similarity": {"references": [{"smiles": "c1ccccc1(", "id": "broken-ref"}]}, "admet": False}
    job = wait_job(client, accepted(submit_file(client, _csv(), "library.csv", parameters=params)), 60)
    assert job["status"] == "failed" and job["error_code"] == "INVALID_PARAMETERS", job


def test_unregistered_activity_model_is_a_422(stack: Stack, project: str) -> None:
    client = stack.client(project)
    r = submit_file(client, _csv(), "library.csv", parameters={"activity": {"model": "no-such-model"}})
    assert r.status_code == 422 and "no-such-model" in r.json()["error"]["message"], r.text
