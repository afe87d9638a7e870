"""Frame dimensions read from a compressed codestream's own header, before the codestream is decoded.

JPEG and JPEG 2000 decoders size their output from the codestream, not from the DICOM header, so a 64 x 64
header wrapping a 60000 x 60000 codestream would make the plugin allocate gigabytes before pydicom notices the
mismatch. Reading the SOF (JPEG, JPEG-LS) or SIZ (JPEG 2000, HTJ2K) marker first lets the caller refuse it.
RLE has no dimensions of its own (its decoder sizes from the header), so there is nothing to check there.
"""

from __future__ import annotations

import struct

_JPEG_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",  # JPEG-LS: same marker layout, SOF55
        "1.2.840.10008.1.2.4.81",
    }
)
_J2K_SYNTAXES = frozenset(
    {"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202"}
    | {"1.2.840.10008.1.2.4.203"}
)
# Start-of-frame markers: SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC); F7 is JPEG-LS SOF55.
_SOF_MARKERS = frozenset(set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}) | {0xF7}
_J2K_SIZ = b"\xff\x4f\xff\x51"  # SOC immediately followed by SIZ (ISO 15444-1 A.5.1)
_SEARCH_LIMIT = 65536  # the SIZ marker sits at the start of the codestream, after at most a JP2 box header


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or entropy-coded data before any frame header
            return None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker in _SOF_MARKERS:
            if pos + 9 > end:
                return None
            rows, cols = struct.unpack_from(">HH", data, pos + 5)
            return int(rows), int(cols)
        pos += 2 + length
    return None


def _j2k_dimensions(data: bytes) -> tuple[int, int] | None:
    start = data.find(_J2K_SIZ, 0, _SEARCH_LIMIT)
    if start < 0 or start + 24 > len(data):
        return None
    # SIZ: Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4) after the two markers.
    xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">LLLL", data, start + 8)
    return int(ysiz) - int(yosiz), int(xsiz) - int(xosiz)


def frame_dimensions(transfer_syntax: str, frame: bytes) -> tuple[int, int] | None:
    """(rows, columns) declared by the codestream; None for syntaxes whose codestream has no dimensions (RLE).

    Raises ValueError when the syntax has them but they cannot be found: a frame we cannot size is not decoded.
    """
    if transfer_syntax in _JPEG_SYNTAXES:
        dimensions = _jpeg_dimensions(frame)
    elif transfer_syntax in _J2K_SYNTAXES:
        dimensions = _j2k_dimensions(frame)
    else:
        return None
    if dimensions is None:
        raise ValueError("no frame header in the codestream")
    return dimensions
