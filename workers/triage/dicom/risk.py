"""Burned-in annotation risk: may the pixels show identifying text or a face?

De-identification cleans the header only (no Clean Pixel Data option): an instance whose pixels may carry a
name, an ID or a face must be quarantined (BURNED_IN_ANNOTATION) or at least never shown as a thumbnail. The
rule is in `burned_in_risk`'s docstring.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from workers.triage.dicom.header import str_value
from workers.triage.dicom.quiet import quiet_pydicom

# Modalities whose images routinely carry text in the pixels (ultrasound calipers and labels, endoscopy and
# photo overlays, slide labels, screenshots and scanned documents) when the header says nothing.
RISKY_MODALITIES = frozenset({"US", "IVUS", "ES", "XC", "GM", "SM", "OP", "DOC", "OT", "SC"})
_RISKY_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound
        "1.2.840.10008.5.1.4.1.1.6.2",  # Enhanced US Volume
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame
        "1.2.840.10008.5.1.4.1.1.6",  # Ultrasound (retired)
        "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound Multi-frame (retired)
    }
)
_RISKY_SOP_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.7.",  # multi-frame secondary capture (single bit, grayscale, true colour)
    "1.2.840.10008.5.1.4.1.1.77.1.",  # visible light: endoscopy, microscopy, photography, ophthalmic, slides
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated documents (PDF, CDA, ...)
)


def burned_in_risk(ds: Dataset) -> bool:
    """True when the pixels may show identifying text or a face.

    Declared YES (BurnedInAnnotation, or RecognizableVisualFeatures for faces) is always a risk. A declared NO is
    trusted. When BurnedInAnnotation is absent, the risk is assumed for the modalities and SOP classes where
    burned-in text is the norm (RISKY_MODALITIES, secondary capture, ultrasound, visible light, documents) and
    for anything carrying a ConversionType (the Secondary Capture module: screenshots, scans, digitised film).
    """
    with quiet_pydicom():
        burned_in = (str_value(ds, "BurnedInAnnotation") or "").upper()
        faces = (str_value(ds, "RecognizableVisualFeatures") or "").upper()
        if burned_in == "YES" or faces == "YES":
            return True
        if burned_in == "NO":
            return False
        modality = (str_value(ds, "Modality") or "").upper()
        file_meta = getattr(ds, "file_meta", None)
        media_class = str_value(file_meta, "MediaStorageSOPClassUID") if isinstance(file_meta, Dataset) else None
        sop_class = str_value(ds, "SOPClassUID") or media_class or ""
        return (
            modality in RISKY_MODALITIES
            or sop_class in _RISKY_SOP_CLASSES
            or sop_class.startswith(_RISKY_SOP_PREFIXES)
            or "ConversionType" in ds
        )
