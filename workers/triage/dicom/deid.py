"""De-identification per PS3.15 Annex E, Basic Application Level Confidentiality Profile, plus safety nets.

`deidentify(ds, key)` rewrites the data set in place and returns the only metadata the pipeline may store.

What is applied, at every nesting level (the profile's actions hold wherever an attribute occurs):
  * the basic-profile table in profile.py (D/Z/X/U; composite actions reduced as documented there);
  * all private elements removed (no Retain Safe Private option); group lengths, curves (50xx), overlays (60xx)
    and group 0016 removed;
  * safety nets for attributes the table does not name, driven by VR: every PN is emptied, every DA/DT/TM is
    removed (no Retain Longitudinal Temporal Information option, so only code 113100 is claimed and
    LongitudinalTemporalInformationModified says REMOVED), every UI that is not a registered DICOM UID and not a
    class/coding UID is replaced like a U attribute, and every UN element (unknown tag, unreadable) is removed.

UIDs become "2.25." + the integer of the first 16 bytes of HMAC-SHA256(project key, UID): the same source UID
maps to the same pseudonym under one project key (series and studies stay linked across uploads and
references stay consistent), and to unrelated ones across projects. The patient is represented only by an
HMAC pseudonym of (issuer, PatientID), used to detect series that mix patients without storing the ID.
Nothing here touches the file system: results are strings, never paths.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID_dictionary

from core.enums import ItemErrorCode
from workers.triage.dicom.errors import DicomItemError
from workers.triage.dicom.header import PHOTOMETRIC_SAMPLES, int_value, str_value
from workers.triage.dicom.profile import ACTIONS, REMOVED_GROUPS, REMOVED_REPEATING_GROUPS
from workers.triage.dicom.quiet import quiet_pydicom
from workers.triage.dicom.risk import burned_in_risk

# burned_in_risk lives in risk.py; it is re-exported here because the pipeline reads it next to deidentify.
__all__ = ["DeidResult", "burned_in_risk", "deidentify", "patient_pseudonym", "pseudo_uid"]

DEID_METHOD = "PS3.15 basic profile; no private, dates or overlays; HMAC UIDs"  # LO: at most 64 characters
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")

# UI attributes naming classes, syntaxes or coding schemes rather than instances: they identify nobody and
# their meaning depends on the exact value (a private SOP class must stay what it is).
KEEP_UID_KEYWORDS = frozenset(
    {
        "SOPClassUID",
        "MediaStorageSOPClassUID",
        "ReferencedSOPClassUID",
        "ReferencedSOPClassUIDInFile",
        "RelatedGeneralSOPClassUID",
        "OriginalSpecializedSOPClassUID",
        "TransferSyntaxUID",
        "ReferencedTransferSyntaxUIDInFile",
        "ImplementationClassUID",
        "CodingSchemeUID",
        "ContextUID",
        "MappingResourceUID",
    }
)
_DUMMY_TEXT = "ANONYMIZED"  # fits every string VR's length limit (SH/AE/CS: 16) and CS's character set
_DUMMY_BY_VR: dict[str, object] = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
}
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"})
_TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_DATE_VRS = frozenset({"DA", "DT", "TM"})
_STRING_VRS = _TEXT_VRS | _DATE_VRS | frozenset({"AS", "DS", "IS", "UI", "UR"})
_CODE_STRING = re.compile(r"^[A-Z0-9_ ]{1,16}$")
_NAME_SPLIT = re.compile(r"[\^= ,.]+")
_LATERALITY = frozenset({"R", "L", "B", "U"})


@dataclass(frozen=True)
class DeidResult:
    """What the pipeline may store about an instance. Absent numbers are 0 (rows, cols) or 1 (frames)."""

    study_uid: str | None
    series_uid: str | None
    instance_uid: str | None
    patient_pseudonym: str | None  # None when the source had no PatientID
    modality: str | None
    body_part: str | None
    view_position: str | None
    laterality: str | None
    sop_class_uid: str | None
    transfer_syntax_uid: str | None
    rows: int
    cols: int
    frames: int
    photometric: str | None
    bits_stored: int | None
    burned_in: str | None  # BurnedInAnnotation as declared: "YES", "NO" or None
    series_number: int | None  # per-study counters: not identifying on their own (kept by the profile)
    instance_number: int | None


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or not key:
        raise ValueError("the de-identification key must be non-empty bytes")


def pseudo_uid(key: bytes, uid: str) -> str:
    """A valid UID (<= 44 characters, digits and dots) standing for `uid` under `key`."""
    _check_key(key)
    digest = hmac.new(key, uid.strip("\x00 ").encode("utf-8"), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def patient_pseudonym(key: bytes, patient_id: str, issuer: str | None = None) -> str:
    """Hex HMAC of (issuer, PatientID): equal for the same patient within a project, meaningless outside it."""
    _check_key(key)
    pid, iss = patient_id.strip("\x00 "), (issuer or "").strip("\x00 ")
    # Length-prefixed and domain-separated, so ("A", "BC") and ("AB", "C") differ and a UID pseudonym can't match.
    message = b"medsieve.patient.v1\x00" + f"{len(iss)}:{iss}|{pid}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _is_removed_group(group: int) -> bool:
    return group in REMOVED_GROUPS or any(group in groups for groups in REMOVED_REPEATING_GROUPS)


class _Deidentifier:
    def __init__(self, key: bytes) -> None:
        self.key = key
        self._uids: dict[str, str] = {}

    def uid(self, value: str) -> str:
        if value not in self._uids:
            self._uids[value] = pseudo_uid(self.key, value)
        return self._uids[value]

    def replace_uids(self, ds: Dataset, elem: DataElement) -> None:
        if elem.VR != "UI":  # a U action on something that is not a UID: nothing safe to keep
            del ds[elem.tag]
            return
        value = elem.value
        if isinstance(value, MultiValue | list):
            elem.value = [self.uid(str(v)) for v in value if str(v)]
        elif value:
            elem.value = self.uid(str(value))

    def dataset(self, ds: Dataset) -> None:
        for tag in list(ds.keys()):
            try:
                elem = ds[tag]
            except Exception:  # a value pydicom cannot even convert: we cannot judge it, so it goes
                del ds[tag]
                continue
            action = ACTIONS.get(int(tag))
            if action is not None:
                self.apply(ds, elem, action)
            else:
                self.safety_net(ds, elem)

    def apply(self, ds: Dataset, elem: DataElement, action: str) -> None:
        if action == "X":
            del ds[elem.tag]
        elif action == "Z":
            _set_empty(elem)
        elif action == "D":
            _set_dummy(elem, self.uid)
        elif action == "U":
            self.replace_uids(ds, elem)
        else:  # pragma: no cover - profile.py only produces the four codes above
            raise AssertionError(action)

    def safety_net(self, ds: Dataset, elem: DataElement) -> None:
        tag = elem.tag
        if tag.is_private or _is_removed_group(tag.group) or (tag.element == 0 and tag.group != 0x0002):
            del ds[tag]
        elif elem.VR == "SQ":
            for item in elem.value:
                self.dataset(item)
        elif elem.VR == "UN" or elem.VR in _DATE_VRS:
            del ds[tag]
        elif elem.VR == "PN":
            _set_empty(elem)
        elif elem.VR == "UI" and elem.keyword not in KEEP_UID_KEYWORDS:
            values = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            if any(v and str(v) not in UID_dictionary for v in values):
                self.replace_uids(ds, elem)


def _set_empty(elem: DataElement) -> None:
    """Zero length, typed so that pydicom still reads back what it writes ("" for text, [] for sequences)."""
    if elem.VR == "SQ":
        elem.value = []
    elif elem.VR in _STRING_VRS:
        elem.value = ""
    else:
        elem.value = None


def _set_dummy(elem: DataElement, uid: Callable[[str], str]) -> None:
    vr = elem.VR
    if vr == "SQ":
        elem.value = []  # a dummy item would mean nothing to anyone; an empty sequence is the honest stand-in
    elif vr == "UI":
        elem.value = uid(str(elem.value)) if elem.value else None
    elif vr in _DUMMY_BY_VR:
        elem.value = _DUMMY_BY_VR[vr]
    elif vr in _NUMERIC_VRS:
        elem.value = 0
    elif vr in _TEXT_VRS:
        elem.value = _DUMMY_TEXT
    else:
        elem.value = None


def _identifier_tokens(ds: Dataset) -> set[str]:
    """Pieces of the patient's name and ID, to keep them out of the few coded strings we store."""
    tokens: set[str] = set()
    for keyword in ("PatientName", "PatientID", "OtherPatientNames", "PatientBirthName"):
        value = ds.get(keyword)
        if value is None:
            continue
        values = value if isinstance(value, MultiValue | list) else [value]
        for v in values:
            tokens.update(t.upper() for t in _NAME_SPLIT.split(str(v)) if len(t) >= 3)
    return tokens


def _coded(ds: Dataset, keyword: str, tokens: set[str], allowed: frozenset[str] | None = None) -> str | None:
    """A Code String we may store: the CS syntax, an allowed value when a set is given, no name or ID inside."""
    value = str_value(ds, keyword)
    if value is None:
        return None
    value = value.upper()
    if not _CODE_STRING.match(value) or (allowed is not None and value not in allowed):
        return None
    if any(token in value for token in tokens):
        return None
    return value


def _uid_or_none(value: str | None) -> str | None:
    if value and len(value) <= 64 and re.fullmatch(r"[0-9]+(\.[0-9]+)+", value):
        return value
    return None


def _safe_int(ds: Dataset, keyword: str) -> int | None:
    try:
        return int_value(ds, keyword)
    except DicomItemError:
        return None


def _mark_deidentified(ds: Dataset) -> None:
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEID_METHOD
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = [code]
    ds.LongitudinalTemporalInformationModified = "REMOVED"


def _deidentify(ds: Dataset, key: bytes) -> DeidResult:
    patient_id = str_value(ds, "PatientID")
    pseudonym = patient_pseudonym(key, patient_id, str_value(ds, "IssuerOfPatientID")) if patient_id else None
    tokens = _identifier_tokens(ds)

    worker = _Deidentifier(key)
    worker.dataset(ds)
    file_meta = getattr(ds, "file_meta", None)
    if isinstance(file_meta, Dataset):
        worker.dataset(file_meta)
    if hasattr(ds, "preamble"):
        ds.preamble = b"\x00" * 128  # a TIFF header or anything else from the upload is not carried over
    _mark_deidentified(ds)

    photometric = str_value(ds, "PhotometricInterpretation")
    photometric = photometric.upper() if photometric else None
    burned_in = (str_value(ds, "BurnedInAnnotation") or "").upper()
    laterality = _coded(ds, "ImageLaterality", tokens, _LATERALITY) or _coded(ds, "Laterality", tokens, _LATERALITY)
    return DeidResult(
        study_uid=_uid_or_none(str_value(ds, "StudyInstanceUID")),
        series_uid=_uid_or_none(str_value(ds, "SeriesInstanceUID")),
        instance_uid=_uid_or_none(str_value(ds, "SOPInstanceUID")),
        patient_pseudonym=pseudonym,
        modality=_coded(ds, "Modality", tokens),
        body_part=_coded(ds, "BodyPartExamined", tokens),
        view_position=_coded(ds, "ViewPosition", tokens),
        laterality=laterality,
        sop_class_uid=_uid_or_none(str_value(ds, "SOPClassUID")),
        transfer_syntax_uid=_uid_or_none(str_value(file_meta, "TransferSyntaxUID"))
        if isinstance(file_meta, Dataset)
        else None,
        rows=_safe_int(ds, "Rows") or 0,
        cols=_safe_int(ds, "Columns") or 0,
        frames=_safe_int(ds, "NumberOfFrames") or 1,
        photometric=photometric if photometric in PHOTOMETRIC_SAMPLES else None,
        bits_stored=_safe_int(ds, "BitsStored"),
        burned_in=burned_in if burned_in in ("YES", "NO") else None,
        series_number=_safe_int(ds, "SeriesNumber"),
        instance_number=_safe_int(ds, "InstanceNumber"),
    )


def deidentify(ds: Dataset, key: bytes) -> DeidResult:
    """De-identify `ds` in place (module docstring) and return the safe metadata."""
    _check_key(key)
    with quiet_pydicom():
        try:
            return _deidentify(ds, key)
        except MemoryError:
            raise
        except Exception:  # never let a library message (which may quote a value) out
            raise DicomItemError(ItemErrorCode.INVALID_HEADER, "the data set could not be de-identified") from None
