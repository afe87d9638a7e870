"""The DICOM layer needs the triage extra (pydicom, the pylibjpeg plugins) and pydicom-data's real files."""

from __future__ import annotations

import pytest

pytest.importorskip("pydicom", reason="the triage extra (pydicom) is not installed")
pytest.importorskip("data_store", reason="pydicom-data (real DICOM test files) is not installed")
