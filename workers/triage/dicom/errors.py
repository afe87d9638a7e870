"""The one exception of the DICOM layer: a per-item failure with a fixed code and a message we wrote.

Messages are built from our own words and from numbers that are not identifying (sizes, dimensions, bit
depths, counts). They never quote a header value, a UID or the text of a library exception, because an
exception's text may echo a patient name or ID and these messages end up in the database and in logs.
"""

from __future__ import annotations

from core.enums import ItemErrorCode


class DicomItemError(Exception):
    """A bad instance: recorded with its code and message, never fails its batch."""

    def __init__(self, code: ItemErrorCode | str, message: str) -> None:
        # Normalising through the enum rejects a misspelt code at the raise site instead of in a report.
        self.code: str = ItemErrorCode(code).value
        self.message: str = message
        super().__init__(f"{self.code}: {message}")

    def __reduce__(self) -> tuple[type[DicomItemError], tuple[str, str]]:
        # Celery/multiprocessing pickle exceptions by their args; keep (code, message) round-tripping.
        return (type(self), (self.code, self.message))
