"""DICOMweb STOW-RS intake: multipart/related bodies become a triage job whose input is a zip of the parts."""

from __future__ import annotations

import zipfile

import pytest

from core.artifacts import artifact_path
from tests.api.conftest import Api, assert_error, job_row

BOUNDARY = "medsieve-test-boundary"


def _body(parts: list[bytes], part_type: str = "application/dicom", close: bool = True) -> bytes:
    out = b""
    for data in parts:
        out += f"--{BOUNDARY}\r\nContent-Type: {part_type}\r\n\r\n".encode() + data + b"\r\n"
    if close:
        out += f"--{BOUNDARY}--\r\n".encode()
    return out


def _post(api: Api, body: bytes, ctype: str | None = None, **params: str):  # type: ignore[no-untyped-def]
    ctype = ctype or f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
    return api.client.post(
        "/v1/dicomweb/studies", content=body, params=params, headers={**api.headers, "Content-Type": ctype}
    )


def _instances() -> list[bytes]:
    pydicom_data = pytest.importorskip("pydicom.data")
    return [
        open(pydicom_data.get_testdata_file(name), "rb").read()
        for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm")
    ]


def test_stow_parts_become_a_zip_triage_job_with_our_member_names(api: Api) -> None:
    instances = _instances()
    r = _post(api, _body(instances), parameters='{"thumbnails": false}')
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["domain"] == "triage" and job["input_format"] == "zip"
    row = job_row(job["id"])
    assert row.input_filename is None and row.parameters["thumbnails"] is False
    path = artifact_path(api.data_dir.resolve() / "artifacts", row.input_sha256)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["part-000001.dcm", "part-000002.dcm", "part-000003.dcm"]
        assert [zf.read(n) for n in zf.namelist()] == instances  # byte for byte


def test_stow_same_idempotency_key_is_one_job(api: Api) -> None:
    body = _body(_instances()[:1])
    first = api.client.post(
        "/v1/dicomweb/studies",
        content=body,
        headers={
            **api.headers,
            "Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}",
            "Idempotency-Key": "stow-1",
        },
    )
    second = api.client.post(
        "/v1/dicomweb/studies",
        content=body,
        headers={
            **api.headers,
            "Content-Type": f"multipart/related; type=application/dicom; boundary={BOUNDARY}",
            "Idempotency-Key": "stow-1",
        },
    )
    assert first.status_code == 202 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]


def test_stow_refusals(api: Api) -> None:
    one = _instances()[:1]
    assert_error(_post(api, _body(one), ctype=f"multipart/form-data; boundary={BOUNDARY}"), 415)
    assert_error(
        _post(api, _body(one), ctype=f'multipart/related; type="application/dicom+json"; boundary={BOUNDARY}'), 415
    )
    assert_error(_post(api, _body(one, part_type="image/png")), 415)
    assert_error(_post(api, _body([])), 422)
    assert_error(_post(api, _body(one, close=False)), 400)
    assert_error(_post(api, _body(one), ctype='multipart/related; type="application/dicom"'), 400)
    assert_error(_post(api, _body(one), parameters='{"no_such_option": 1}'), 422)
    assert api.client.post("/v1/dicomweb/studies", content=_body(one)).status_code == 401
