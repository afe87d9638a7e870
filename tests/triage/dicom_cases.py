"""Real DICOM test inputs with planted identifiers, and the outcome each must get.

Built from pydicom's and pydicom-data's real files: the full-size chest radiograph (RG1_UNCI), its JPEG 2000
twin, CT/MR slices (JPEG 2000, RLE), a secondary capture, a DICOMDIR and an SR document, plus hostile variants
the tests write (truncated, polyglot preamble, burned-in flag, mixed patients in one series, a path-escaping
member, not DICOM at all).
Every planted value is distinctive so a byte grep anywhere (database, logs, broker, PNGs) finds any leak.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

# Distinctive values: a leak of any of them anywhere fails the PHI tests.
PHI = {
    "PatientName": "Zyxwvplanted^Qwertyuiop",
    "PatientID": "PHIID8675309",
    "PatientBirthDate": "19230517",
    "OtherPatientIDs": "OTHERPHI5551212",
    "AccessionNumber": "ACCPHI424242",
    "InstitutionName": "Hospital Of Planted Secrets",
    "InstitutionAddress": "17 Plantedsecret Lane",
    "ReferringPhysicianName": "Drplanted^Secretus",
    "StudyID": "STUDYPHI77",
    "PatientAddress": "99 Leakcheck Road",
    "StudyDescription": "PLANTEDDESC chest for Zyxwvplanted",
}
STUDY_UID = "1.2.826.0.1.3680043.8.498.90210111222333"
# Uploaded names can identify patients too: they must not be stored either.
MEMBER_DIR = "Zyxwvplanted_Qwertyuiop_PHIID8675309"
PHI_NEEDLES = (*PHI.values(), STUDY_UID, MEMBER_DIR, "Zyxwvplanted", "8675309", "Plantedsecret")


@dataclass(frozen=True)
class Case:
    name: str  # our label, also the (PHI-bearing) member file name
    data: bytes
    code: str | None  # expected item error code; None = a result row
    scored: bool = False


def _plant(ds: Dataset, *, patient_id: str = PHI["PatientID"], series_uid: str | None = None) -> Dataset:
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.PatientID = patient_id
    ds.StudyInstanceUID = STUDY_UID
    if series_uid is not None:
        ds.SeriesInstanceUID = series_uid
    # A private element and a nested identifier: both must go.
    block = ds.private_block(0x0011, "PLANTED CREATOR", create=True)
    block.add_new(0x01, "LO", "PRIVATEPHI " + PHI["PatientName"])
    item = Dataset()
    item.PatientName = PHI["PatientName"]
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    ds.ReferencedPatientSequence = Sequence([item])
    return ds


def _read(name: str) -> Dataset:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed (pydicom-data)")
    return pydicom.dcmread(path)


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _raw(name: str) -> bytes:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed (pydicom-data)")
    with open(path, "rb") as fh:
        return fh.read()


def cases() -> list[Case]:
    chest = _bytes(_plant(_read("RG1_UNCI.dcm")))
    chest_j2k = _plant(_read("RG1_J2KI.dcm"))
    chest_j2k.SOPInstanceUID = chest_j2k.SOPInstanceUID + ".2"
    ct = _bytes(_plant(_read("CT_small.dcm")))
    burned = _plant(_read("CT_small.dcm"))
    burned.BurnedInAnnotation = "YES"
    burned.SOPInstanceUID = burned.SOPInstanceUID + ".7"
    polyglot = bytearray(ct)
    polyglot[:4] = b"MZ\x90\x00"
    mixed_series = "1.2.826.0.1.3680043.8.498.5550001"
    mixed_a = _plant(_read("MR_small.dcm"), patient_id="PHIID8675309", series_uid=mixed_series)
    mixed_b = _plant(_read("MR_small.dcm"), patient_id="OTHERPHI5551212", series_uid=mixed_series)
    mixed_b.SOPInstanceUID = mixed_b.SOPInstanceUID + ".9"
    return [
        Case("chest.dcm", chest, None, scored=True),
        Case("chest_j2k.dcm", _bytes(chest_j2k), None, scored=True),
        Case("ct.dcm", ct, None),
        Case("ct_j2k.dcm", _bytes(_plant(_read("693_J2KR.dcm"))), None),
        Case("mr_rle.dcm", _bytes(_plant(_read("MR_small_RLE.dcm"))), None),
        # Secondary capture with no BurnedInAnnotation: unknown counts as a risk.
        Case("sc_j2k.dcm", _bytes(_plant(_read("JPEG2000.dcm"))), "BURNED_IN_ANNOTATION"),
        Case("mixed_a.dcm", _bytes(mixed_a), "MIXED_PATIENTS"),
        Case("mixed_b.dcm", _bytes(mixed_b), "MIXED_PATIENTS"),
        Case("burned.dcm", _bytes(burned), "BURNED_IN_ANNOTATION"),
        Case("polyglot.dcm", bytes(polyglot), "SUSPICIOUS_PREAMBLE"),
        Case("truncated.dcm", ct[: len(ct) // 2], "TRUNCATED"),
        Case("report.dcm", _bytes(_plant(_read("test-SR.dcm"))), "NO_PIXEL_DATA"),
        Case("DICOMDIR", _raw("DICOMDIR"), "DICOMDIR"),
        Case("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "NOT_DICOM"),
    ]


def archive(items: list[Case], *, escape: bool = True) -> bytes:
    """A zip as a PACS export might look: a folder named after the patient. Plus one path-escaping member."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for case in items:
            zf.writestr(f"{MEMBER_DIR}/{case.name}", case.data)
        if escape:
            zf.writestr(f"../{MEMBER_DIR}/escape.dcm", items[0].data)
    return buf.getvalue()


def expected_codes(items: list[Case], *, escape: bool = True) -> list[str | None]:
    return [c.code for c in items] + (["UNSAFE_PATH"] if escape else [])
