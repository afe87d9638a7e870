"""Keep pydicom from echoing header values into warnings and logs.

pydicom reports odd values as `Invalid value for VR PN: 'DOE^JOHN'` through both `warnings.warn` and its
"pydicom" logger; either can end up in a worker log. Every public entry point of this package runs its pydicom
calls inside `quiet_pydicom()`, and importing this module stops the "pydicom" logger from propagating (a worker
that imports the DICOM layer never wants pydicom's messages: they are not ours and may carry PHI).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_pydicom_logger = logging.getLogger("pydicom")
_pydicom_logger.propagate = False
_pydicom_logger.setLevel(logging.CRITICAL + 1)


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """Drop warnings raised inside the block. `catch_warnings` is process-wide state, fine for prefork workers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
