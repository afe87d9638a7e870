"""The C-STORE listener: real DICOM associations (pynetdicom SCU -> our SCP) spool studies, and stable studies
become triage jobs through the real API; an unreachable API keeps them spooled, nothing is lost."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import httpx
import pytest

from bench.processes import free_port
from core.artifacts import artifact_path
from tests.api.conftest import Api, job_row

pynetdicom = pytest.importorskip("pynetdicom")
pydicom = pytest.importorskip("pydicom")


def _send(port: int, datasets: list) -> list[int]:  # type: ignore[type-arg]
    from pynetdicom import AE, StoragePresentationContexts

    ae = AE(ae_title="TESTSCU")
    ae.requested_contexts = StoragePresentationContexts
    assoc = ae.associate("127.0.0.1", port, ae_title="MEDSIEVE")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def _instances() -> list:  # type: ignore[type-arg]
    from pydicom.data import get_testdata_file

    ct_a = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct_b = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ct_b.SOPInstanceUID = ct_b.SOPInstanceUID + ".2"
    mr = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    return [ct_a, ct_b, mr]


def test_studies_become_jobs_once_stable_and_survive_an_api_outage(api: Api, tmp_path: Path) -> None:
    from workers.triage.scp import StudySpool, Submitter, start_listener

    spool = StudySpool(tmp_path / "spool", b"k" * 32, stable_s=0.3)
    port = free_port()
    server = start_listener(spool, "127.0.0.1", port)
    try:
        assert _send(port, _instances()) == [0, 0, 0]
        spooled = sorted(p.relative_to(spool.root).as_posix() for p in spool.root.rglob("*.dcm"))
        assert len(spooled) == 3
        assert not any("1.3.6" in name for name in spooled)  # folders are HMACs, never UIDs

        # The API is down: nothing is submitted and nothing is dropped.
        down = httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
        time.sleep(0.4)
        assert Submitter(spool, down).flush() == 0
        assert len(list(spool.root.rglob("*.dcm"))) == 3

        submitter = Submitter(spool, api.client)
        submitter.client.headers.update(api.headers)
        assert submitter.flush() == 2
        assert not list(spool.root.rglob("*.dcm"))
    finally:
        server.shutdown()

    sizes = []
    for job_id in submitter.submitted:
        row = job_row(job_id)
        assert row.domain == "triage" and row.input_format == "zip" and row.input_filename is None
        with zipfile.ZipFile(artifact_path(api.data_dir.resolve() / "artifacts", row.input_sha256)) as zf:
            members = zf.namelist()
            sizes.append(len(members))
            for name in members:  # each member is the instance as sent, a readable Part 10 file
                assert pydicom.dcmread(zf.open(name)).SOPInstanceUID
    assert sorted(sizes) == [1, 2]  # the CT study's two instances together, the MR study alone
