"""De-identification on real files with identifiers planted everywhere the basic profile reaches."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import warnings

import numpy as np
import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.uid import UID, UID_dictionary

from tests.triage_dicom.helpers import KEY, OTHER_KEY, UID_PATTERN, load, raw, rewrite, to_bytes
from workers.triage.dicom.deid import (
    KEEP_UID_KEYWORDS,
    DeidResult,
    burned_in_risk,
    deidentify,
    patient_pseudonym,
    pseudo_uid,
)
from workers.triage.dicom.inspect import read_dataset
from workers.triage.dicom.pixels import decode_image
from workers.triage.dicom.profile import ACTIONS, DECLARED, KEYWORDS

PLANTED = {
    "PatientName": "Zyxwuvname^Plantedgiven",
    "PatientID": "PID-PLANTED-7731",
    "IssuerOfPatientID": "ISSUER-PLANTED-HOSP",
    "PatientBirthDate": "19230405",
    "PatientBirthTime": "081522",
    "OtherPatientIDs": "OTHER-PLANTED-9913",
    "OtherPatientNames": "Othername^Planted",
    "PatientAddress": "12 Planted Street, Nowhere",
    "PatientTelephoneNumbers": "+99 555 0192 77",
    "PatientMotherBirthName": "Mothername^Planted",
    "AccessionNumber": "ACC-PLANTED-55",
    "InstitutionName": "Planted General Hospital",
    "InstitutionAddress": "1 Hospital Road Plantedtown",
    "InstitutionalDepartmentName": "Planted Radiology Dept",
    "ReferringPhysicianName": "Refdoc^Plantedref",
    "PerformingPhysicianName": "Perfdoc^Plantedperf",
    "OperatorsName": "Operator^Plantedop",
    "NameOfPhysiciansReadingStudy": "Reader^Plantedread",
    "StudyID": "STUDY-PLANTED-1",
    "StudyDate": "20010203",
    "SeriesDate": "20010204",
    "AcquisitionDate": "20010205",
    "ContentDate": "20010206",
    "StudyTime": "101112.131415",
    "AcquisitionDateTime": "20010207101112",
    "StationName": "STATION-PLANTED",
    "DeviceSerialNumber": "SERIAL-PLANTED-42",
    "StudyDescription": "Planted study description",
    "SeriesDescription": "Planted series description",
    "ImageComments": "Planted image comment",
    "ProtocolName": "Planted protocol name",
    "AdditionalPatientHistory": "Planted patient history",
    "DateOfSecondaryCapture": "19990908",  # not in the table: removed by the date safety net
    "ManufacturerDeviceClassUID": "1.2.999.77.1234567",  # not in the table: replaced by the UID safety net
}
NESTED_NAME = "Nestedname^Planted"
NESTED_DATE = "19870605"
PRIVATE_VALUE = "PRIVATE-PLANTED-VALUE"
REQUEST_ID = "REQPROC-PLANTED-3"
OVERLAY_TEXT = "OVERLAY-PLANTED-TEXT"
REFERENCED_UID = "1.2.999.88.55.4433"


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def plant(ds: Dataset) -> Dataset:
    """Identifiers in every place the profile and the safety nets must reach, on top of the file's own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in PLANTED.items():
            setattr(ds, keyword, value)
        ds.OtherPatientIDsSequence = [_item(PatientID="SEQ-OTHER-PLANTED-1", IssuerOfPatientID="SEQ-ISSUER-PLANTED")]
        ds.RequestAttributesSequence = [_item(RequestedProcedureID=REQUEST_ID, ScheduledProcedureStepID="SPS-PLANT")]
        ds.ReferencedImageSequence = [_item(ReferencedSOPClassUID="1.2.840.10008.5.1.4.1.1.2")]
        ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = REFERENCED_UID
        # A kept sequence (not in the table) whose item carries a name, a date, a UID and a private element:
        # the walker must recurse into it.
        nested = _item(CodeValue="T-D3000", CodingSchemeDesignator="SRT", CodeMeaning="Chest")
        nested.PatientName = NESTED_NAME
        nested.InstanceCreationDate = NESTED_DATE
        nested.ReferencedSOPInstanceUID = "1.2.999.88.55.4434"
        nested.private_block(0x0029, "PLANTED NESTED", create=True).add_new(0x01, "LO", "NESTED-PRIVATE-PLANTED")
        ds.AnatomicRegionSequence = [nested]
        ds.private_block(0x0011, "PLANTED CREATOR", create=True).add_new(0x01, "LO", PRIVATE_VALUE)
        ds.add_new(0x60004000, "LT", OVERLAY_TEXT)  # Overlay Comments
        ds.file_meta.SourceApplicationEntityTitle = "AE-PLANTED"
    return ds


def _original_instance_uids(ds: Dataset) -> set[str]:
    uids: set[str] = set()
    for elem in [*ds.iterall(), *ds.file_meta]:
        if elem.VR == "UI" and elem.keyword not in KEEP_UID_KEYWORDS:
            values = elem.value if isinstance(elem.value, list) else [elem.value]
            uids.update(str(v) for v in values if v and str(v) not in UID_dictionary)
    return uids


PHI_FILES = ["CT_small.dcm", "MR_small.dcm", "RG1_UNCI.dcm", "JPEG2000.dcm", "US1_UNCI.dcm", "eCT_Supplemental.dcm"]


@pytest.mark.parametrize("name", PHI_FILES)
def test_no_planted_value_or_original_uid_survives(name: str) -> None:
    source = plant(load(name))
    original_uids = _original_instance_uids(source)
    assert REFERENCED_UID in original_uids and len(original_uids) >= 4
    ds = read_dataset(to_bytes(source))  # through the real reader, as the pipeline does
    result = deidentify(ds, KEY)

    written = to_bytes(ds)
    shown = str(ds) + repr(result)
    forbidden = [*PLANTED.values(), NESTED_NAME, NESTED_DATE, PRIVATE_VALUE, REQUEST_ID, OVERLAY_TEXT, "AE-PLANTED"]
    forbidden += ["SEQ-OTHER-PLANTED-1", "SEQ-ISSUER-PLANTED", "NESTED-PRIVATE-PLANTED", "PLANTED CREATOR"]
    forbidden += sorted(original_uids)
    for value in forbidden:
        assert value.encode() not in written, f"{value!r} is still in the written file"
        assert value not in shown, f"{value!r} is still in the data set"
    for part in re.split(r"[\^ ]", PLANTED["PatientName"]):
        assert part.encode() not in written

    assert not any(elem.tag.is_private for elem in ds.iterall())
    assert not any(elem.tag.group == 0x6000 for elem in ds)
    assert ds.PatientName == "" and ds.PatientID == "" and ds.AccessionNumber == ""
    assert "OtherPatientIDs" not in ds and "RequestAttributesSequence" not in ds
    assert ds.AnatomicRegionSequence[0].PatientName == ""  # recursed into, code kept
    assert ds.AnatomicRegionSequence[0].CodeValue == "T-D3000"
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == result.instance_uid
    assert ds.preamble == b"\x00" * 128
    for uid in (result.study_uid, result.series_uid, result.instance_uid):
        assert uid is not None and re.fullmatch(UID_PATTERN, uid) and len(uid) <= 64 and uid.startswith("2.25.")
    assert result.patient_pseudonym == patient_pseudonym(KEY, PLANTED["PatientID"], PLANTED["IssuerOfPatientID"])


def test_deidentified_file_is_still_a_valid_image_with_the_same_pixels() -> None:
    before = decode_image(read_dataset(raw("CT_small.dcm")))
    ds = read_dataset(raw("CT_small.dcm"))
    deidentify(ds, KEY)
    again = read_dataset(to_bytes(ds))
    assert np.array_equal(decode_image(again), before)


def test_pseudo_uid_is_the_documented_hmac() -> None:
    uid = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    expected = "2.25." + str(int.from_bytes(hmac.new(KEY, uid.encode(), hashlib.sha256).digest()[:16], "big"))
    assert pseudo_uid(KEY, uid) == expected
    assert pseudo_uid(KEY, uid) == pseudo_uid(KEY, uid)
    assert pseudo_uid(OTHER_KEY, uid) != expected
    assert pseudo_uid(KEY, uid + "1") != expected
    for key in (KEY, OTHER_KEY):
        for source in (uid, "1.2.3", "9" * 64):
            value = pseudo_uid(key, source)
            assert re.fullmatch(UID_PATTERN, value) and len(value) <= 64
    with pytest.raises(ValueError):
        pseudo_uid(b"", uid)


def test_pseudonyms_keep_series_and_references_linked() -> None:
    first = read_dataset(raw("CT_small.dcm"))
    original_instance = str(first.SOPInstanceUID)
    # A second instance of the same series that references the first one.
    second_source = load("CT_small.dcm")
    second_source.SOPInstanceUID = "1.2.999.1.2.3.4.5"
    second_source.file_meta.MediaStorageSOPInstanceUID = UID("1.2.999.1.2.3.4.5")
    second_source.ReferencedImageSequence = [_item(ReferencedSOPClassUID=first.SOPClassUID)]
    second_source.SourceImageSequence = []
    second_source.ReferencedSOPSequence = [_item(ReferencedSOPClassUID=first.SOPClassUID)]
    second_source.ReferencedSOPSequence[0].ReferencedSOPInstanceUID = original_instance
    second = read_dataset(to_bytes(second_source))

    a, b = deidentify(first, KEY), deidentify(second, KEY)
    assert (a.study_uid, a.series_uid) == (b.study_uid, b.series_uid)
    assert a.instance_uid != b.instance_uid
    assert second.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == a.instance_uid
    other = deidentify(read_dataset(raw("CT_small.dcm")), OTHER_KEY)
    assert other.study_uid != a.study_uid and other.instance_uid != a.instance_uid


def test_patient_pseudonym() -> None:
    p = patient_pseudonym(KEY, "12345", "HOSP-A")
    assert re.fullmatch(r"[0-9a-f]{64}", p)
    assert p == patient_pseudonym(KEY, " 12345 ", "HOSP-A")  # DICOM padding does not change the patient
    assert p != patient_pseudonym(KEY, "12345", "HOSP-B")
    assert p != patient_pseudonym(KEY, "12345")
    assert p != patient_pseudonym(OTHER_KEY, "12345", "HOSP-A")
    assert patient_pseudonym(KEY, "1", "23") != patient_pseudonym(KEY, "12", "3")
    # Two instances of one series that name different patients can be told apart without storing the IDs.
    a = deidentify(read_dataset(rewrite("CT_small.dcm", PatientID="A-1")), KEY)
    b = deidentify(read_dataset(rewrite("CT_small.dcm", PatientID="B-2")), KEY)
    assert a.series_uid == b.series_uid and a.patient_pseudonym != b.patient_pseudonym
    assert deidentify(read_dataset(rewrite("CT_small.dcm", PatientID=None)), KEY).patient_pseudonym is None


def test_safe_metadata_of_the_chest_radiograph() -> None:
    result = deidentify(read_dataset(raw("RG1_UNCI.dcm")), KEY)
    assert isinstance(result, DeidResult)
    assert (result.modality, result.body_part, result.view_position) == ("CR", "CHEST", "PA")
    assert (result.rows, result.cols, result.frames, result.bits_stored) == (1955, 1841, 1, 15)
    assert result.photometric == "MONOCHROME1"
    assert result.sop_class_uid == "1.2.840.10008.5.1.4.1.1.1"
    assert result.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert result.burned_in is None and result.laterality is None
    assert (result.series_number, result.instance_number) == (1, 3)
    multi = deidentify(read_dataset(raw("emri_small.dcm")), KEY)
    assert (multi.frames, multi.burned_in, multi.patient_pseudonym) == (10, "NO", None)


def test_coded_values_carrying_the_patient_name_are_not_stored() -> None:
    data = rewrite("CT_small.dcm", PatientName="Kowalski^Jan", BodyPartExamined="KOWALSKI", ImageLaterality="L")
    result = deidentify(read_dataset(data), KEY)
    assert result.body_part is None and result.laterality == "L"
    result = deidentify(read_dataset(rewrite("CT_small.dcm", ImageLaterality="LEFT")), KEY)
    assert result.laterality is None  # only R, L, B, U are laterality codes


def test_pydicom_warnings_and_logs_carry_no_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # pydicom quotes invalid values in its warnings and log lines ("Invalid value for VR CS: ...").
    data = rewrite("CT_small.dcm", FrameOfReferenceUID="1.2.PLANTED.3", BodyPartExamined="Planted^Part")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = read_dataset(data)
        deidentify(ds, KEY)
        decode_image(ds)
    text = caplog.text + " ".join(str(w.message) for w in caught)
    assert "PLANTED" not in text.upper()
    assert logging.getLogger("pydicom").propagate is False


def test_burned_in_risk() -> None:
    assert burned_in_risk(load("CT_small.dcm")) is False
    assert burned_in_risk(load("US1_UNCI.dcm")) is True  # ultrasound, BurnedInAnnotation absent
    assert burned_in_risk(load("JPGLosslessP14SV1_1s_1f_8b.dcm")) is False  # ultrasound that declares NO
    assert burned_in_risk(load("SC_rgb_rle.dcm")) is True  # secondary capture
    ct = load("CT_small.dcm")
    ct.BurnedInAnnotation = "YES"
    assert burned_in_risk(ct) is True
    ct.BurnedInAnnotation = "NO"
    ct.RecognizableVisualFeatures = "YES"  # a face is identifying whatever the text says
    assert burned_in_risk(ct) is True
    photo = load("CT_small.dcm")
    photo.SOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.4"  # VL Photographic Image
    photo.Modality = "XC"
    assert burned_in_risk(photo) is True
    photo.Modality = "CT"
    assert burned_in_risk(photo) is True


def test_profile_table_matches_the_data_dictionary() -> None:
    # The table is typed from PS3.15 by hand: a wrong tag would silently leave an attribute untouched.
    assert len(ACTIONS) > 350
    for tag, keyword in KEYWORDS.items():
        assert keyword_for_tag(tag) == keyword, f"{tag:08X}"
        if ACTIONS[tag] == "U":
            assert dictionary_VR(tag) == "UI", keyword
    expected = {
        0x00100010: "Z",  # PatientName
        0x00100020: "Z",  # PatientID
        0x00100030: "Z",  # PatientBirthDate
        0x00080050: "Z",  # AccessionNumber
        0x00080090: "Z",  # ReferringPhysicianName
        0x00200010: "Z",  # StudyID
        0x00101000: "X",  # OtherPatientIDs
        0x00080080: "X",  # InstitutionName (X/Z/D)
        0x00400275: "X",  # RequestAttributesSequence
        0x0020000D: "U",  # StudyInstanceUID
        0x0020000E: "U",  # SeriesInstanceUID
        0x00080018: "U",  # SOPInstanceUID
        0x00200052: "U",  # FrameOfReferenceUID
        0x00081155: "U",  # ReferencedSOPInstanceUID
        0x0040A123: "D",  # PersonName
    }
    for tag, action in expected.items():
        assert ACTIONS[tag] == action, KEYWORDS[tag]
    assert DECLARED[0x00080080] == "X/Z/D"


def test_key_must_be_bytes() -> None:
    with pytest.raises(ValueError):
        deidentify(read_dataset(raw("CT_small.dcm")), b"")
    ds = io.BytesIO()  # not a key at all
    with pytest.raises(ValueError):
        patient_pseudonym(ds.getvalue(), "1")
