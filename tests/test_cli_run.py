"""The README's first command, as a user runs it: `medsieve run` on the embedded default (SQLite + in-process
worker, no services configured), for the shipped example library and for a folder of real DICOM files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(args: list[str], data_dir: Path) -> dict:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSIEVE_")}
    env["MEDSIEVE_DATA_DIR"] = str(data_dir)
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "run", *args, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return json.loads(out.stdout[out.stdout.index("{") :])


def test_run_example_library_embedded(tmp_path: Path) -> None:
    """The full default pipeline (standardize, filters, ADMET panel, ranking) on the shipped library."""
    summary = _run(["examples/library.smi", "--top", "5"], tmp_path / "data")
    job = summary["job"]
    assert job["status"] == "succeeded"
    assert job["counts"]["items_succeeded"] == 323 and job["counts"]["items_failed"] == 3
    scores = [row["score"] for row in summary["top"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert sum(summary["errors_by_code"].values()) == 3
    top = summary["top"][0]
    assert 0 <= top["admet"]["hERG"] <= 1 and "molecular_weight_drugbank_approved_percentile" in top["admet"]
    export = Path(summary["export"])
    assert export.is_file() and len(export.read_text().splitlines()) == 323 + 1


def test_run_with_reference_actives_from_a_params_file(tmp_path: Path) -> None:
    """The README's EGFR example: similarity to three approved EGFR inhibitors ranks the references present in
    the library first (gefitinib given as its hydrochloride salt is standardized to the reference itself)."""
    summary = _run(
        ["examples/library.smi", "--top", "4", "--params", "@examples/screening-egfr.json"], tmp_path / "data"
    )
    top = summary["top"]
    assert top[0]["item_key"] == "gefitinib-hydrochloride" and top[0]["similarity"] == 1.0
    assert top[0]["standardization"] == "fragments_removed" and top[0]["nearest_reference"] == "gefitinib"
    assert top[1]["item_key"] == "erlotinib" and top[1]["similarity"] == 1.0
    # ADMET liabilities are penalties: the kinase inhibitors' high hERG probabilities cost them score.
    assert top[0]["score"] < 1.0 + 0.2 * top[0]["qed"] - 0.3 * top[0]["admet"]["hERG"] + 1e-9


def test_run_dicom_folder_embedded(tmp_path: Path) -> None:
    data = pytest.importorskip("pydicom.data")
    folder = tmp_path / "scans" / "patient"
    folder.mkdir(parents=True)
    for name in ("RG1_UNCI.dcm", "CT_small.dcm", "DICOMDIR"):
        source = data.get_testdata_file(name)
        if source is None:
            pytest.skip(f"pydicom test file {name} is not installed (pydicom-data)")
        shutil.copy(source, folder / name)
    summary = _run([str(tmp_path / "scans"), "-d", "triage"], tmp_path / "data")
    assert summary["job"]["status"] == "succeeded"
    assert summary["errors_by_code"] == {"DICOMDIR": 1}
    top = summary["top"]
    assert [row["modality"] for row in top] == ["CR", "CT"]  # the scored chest film ranks first
    assert top[0]["probability"] is not None and top[1]["priority"] == "not_scored"
