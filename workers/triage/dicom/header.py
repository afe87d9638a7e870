"""Image Pixel module checks made from the header alone, before a single pixel is decoded.

A decoder trusts Rows, Columns, Bits Allocated and Number of Frames to size its output, so a hostile or broken
header turns into a huge allocation or a crash deep inside a C plugin. Everything the decoder will rely on is
checked here: present, consistent with each other (PS3.3 C.7.6.3), within the configured caps, decodable by an
installed plugin, and backed by enough pixel bytes. Messages quote only numbers and our own attribute names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import get_decoder
from pydicom.uid import UID, UID_dictionary

from core.enums import ItemErrorCode
from workers.triage.dicom.errors import DicomItemError

if TYPE_CHECKING:
    from workers.triage.dicom.inspect import Caps

# Samples per pixel each photometric interpretation requires (PS3.3 C.7.6.3.1.2). Retired ones (HSV, ARGB,
# CMYK, YBR_PARTIAL_422) are absent on purpose: no current decoder path handles them.
PHOTOMETRIC_SAMPLES: dict[str, int] = {
    "MONOCHROME1": 1,
    "MONOCHROME2": 1,
    "PALETTE COLOR": 1,
    "RGB": 3,
    "YBR_FULL": 3,
    "YBR_FULL_422": 3,
    "YBR_PARTIAL_420": 3,
    "YBR_ICT": 3,
    "YBR_RCT": 3,
    "XYB": 3,
}
_BITS_ALLOCATED = frozenset({1, 8, 16, 32})  # integer Pixel Data (64 exists only for Double Float Pixel Data)
_PALETTE_DESCRIPTORS = (
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
)


@dataclass(frozen=True)
class ImageHeader:
    rows: int
    cols: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric: str
    transfer_syntax: str

    @property
    def decoded_bytes(self) -> int:
        # Decoders unpack 1-bit data to one byte per pixel.
        per_sample = 1 if self.bits_allocated == 1 else self.bits_allocated // 8
        return self.rows * self.cols * self.frames * self.samples * per_sample

    @property
    def native_bytes(self) -> int:
        """Length of natively encoded Pixel Data (PS3.5 8.1.1), without the odd-length padding byte."""
        values = self.rows * self.cols * self.frames * self.samples
        length = (values + 7) // 8 if self.bits_allocated == 1 else values * (self.bits_allocated // 8)
        if self.photometric == "YBR_FULL_422":  # two chroma samples shared by each pair of pixels
            length = length // 3 * 2
        return length


def invalid(message: str) -> DicomItemError:
    return DicomItemError(ItemErrorCode.INVALID_HEADER, message)


def int_value(ds: Dataset, keyword: str) -> int | None:
    """One integer value of `keyword`; None when absent or empty. Unreadable or multi-valued -> INVALID_HEADER."""
    if keyword not in ds:
        return None
    try:
        value = ds.data_element(keyword).value  # type: ignore[union-attr]
    except Exception:
        raise invalid(f"{keyword} cannot be read") from None
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue | list | tuple):
        raise invalid(f"{keyword} has more than one value")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(f"{keyword} is not a number") from None
    if not number.is_integer():
        raise invalid(f"{keyword} is not an integer")
    return int(number)


def str_value(ds: Dataset, keyword: str) -> str | None:
    """A single string value, stripped; None when absent, empty or not a plain string."""
    try:
        value = ds.get(keyword)
    except Exception:
        return None
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _required(ds: Dataset, keyword: str) -> int:
    value = int_value(ds, keyword)
    if value is None:
        raise invalid(f"required attribute {keyword} is missing")
    return value


def image_header(ds: Dataset, caps: Caps, transfer_syntax: str) -> ImageHeader:
    """Validate the Image Pixel module and the caps; return the numbers the decoder will use."""
    rows = _required(ds, "Rows")
    cols = _required(ds, "Columns")
    if rows < 1 or cols < 1:
        raise invalid(f"Rows x Columns {rows} x {cols} is empty")
    frames = int_value(ds, "NumberOfFrames")
    frames = 1 if frames is None else frames
    if frames < 1:
        raise invalid(f"NumberOfFrames {frames} is not positive")
    if rows > caps.max_rows or cols > caps.max_cols:
        raise DicomItemError(
            ItemErrorCode.OVERSIZED,
            f"Rows x Columns {rows} x {cols} exceeds the cap {caps.max_rows} x {caps.max_cols}",
        )
    if frames > caps.max_frames:
        raise DicomItemError(ItemErrorCode.OVERSIZED, f"{frames} frames exceeds the cap of {caps.max_frames}")

    samples = _required(ds, "SamplesPerPixel")
    bits_allocated = _required(ds, "BitsAllocated")
    bits_stored = _required(ds, "BitsStored")
    high_bit = int_value(ds, "HighBit")
    representation = _required(ds, "PixelRepresentation")
    if bits_allocated not in _BITS_ALLOCATED:
        raise invalid(f"BitsAllocated {bits_allocated} is not one of 1, 8, 16, 32")
    if not 1 <= bits_stored <= bits_allocated:
        raise invalid(f"BitsStored {bits_stored} is outside 1..BitsAllocated ({bits_allocated})")
    if high_bit is not None and not 0 <= high_bit < bits_allocated:
        raise invalid(f"HighBit {high_bit} is outside 0..BitsAllocated-1 ({bits_allocated - 1})")
    if representation not in (0, 1):
        raise invalid(f"PixelRepresentation {representation} is not 0 or 1")

    photometric = str_value(ds, "PhotometricInterpretation")
    if photometric is None:
        raise invalid("required attribute PhotometricInterpretation is missing")
    photometric = photometric.upper()
    if photometric not in PHOTOMETRIC_SAMPLES:
        raise invalid("PhotometricInterpretation is not a supported value")  # the value itself is not quoted
    if samples != PHOTOMETRIC_SAMPLES[photometric]:
        raise invalid(f"{photometric} needs {PHOTOMETRIC_SAMPLES[photometric]} samples per pixel, not {samples}")
    if photometric == "PALETTE COLOR" and not all(k in ds for k in _PALETTE_DESCRIPTORS):
        raise invalid("PALETTE COLOR image without its palette lookup table descriptors")

    header = ImageHeader(
        rows, cols, frames, samples, bits_allocated, bits_stored, representation, photometric, transfer_syntax
    )
    if header.decoded_bytes > caps.max_decoded_bytes:
        raise DicomItemError(
            ItemErrorCode.OVERSIZED,
            f"decoded pixel data of {header.decoded_bytes} bytes exceeds the cap of {caps.max_decoded_bytes} bytes",
        )
    return header


def syntax_label(uid: str) -> str:
    """The standard's name for a registered UID; never the file's own string for an unregistered one."""
    entry = UID_dictionary.get(uid)
    return f"'{entry[0]}'" if entry else "an unregistered transfer syntax"


def check_transfer_syntax(uid: str) -> None:
    try:
        decoder = get_decoder(uid)
    except Exception:
        raise DicomItemError(
            ItemErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, f"no pixel data decoder exists for {syntax_label(uid)}"
        ) from None
    if not decoder.is_available:
        raise DicomItemError(
            ItemErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, f"no installed plugin can decode {syntax_label(uid)}"
        )


def count_fragments(value: bytes) -> int:
    """Fragments after the Basic Offset Table item; -1 when the item structure is broken."""
    pos, end, fragments = 0, len(value), -1  # the first item is the offset table, not a fragment
    while pos + 8 <= end:
        tag, length = struct.unpack_from("<LL", value, pos)
        if tag == 0xE0DDFFFE:  # (FFFE,E0DD) read as one little-endian u32
            break
        if tag != 0xE000FFFE or length == 0xFFFFFFFF:
            return -1
        pos += 8 + length
        fragments += 1
    return fragments


def check_pixel_data(ds: Dataset, header: ImageHeader) -> None:
    """Pixel Data encoding matches the syntax, and holds at least what the header promises."""
    element = ds["PixelData"]
    encapsulated = UID(header.transfer_syntax).is_encapsulated
    if encapsulated != bool(element.is_undefined_length):
        raise invalid(
            "Pixel Data is encapsulated but the transfer syntax is native"
            if element.is_undefined_length
            else "Pixel Data is native but the transfer syntax is encapsulated"
        )
    value = element.value
    if not isinstance(value, bytes | bytearray):
        raise invalid("Pixel Data cannot be read as bytes")
    if not encapsulated:
        if len(value) < header.native_bytes:
            raise DicomItemError(
                ItemErrorCode.TRUNCATED,
                f"native Pixel Data holds {len(value)} bytes, the header needs {header.native_bytes}",
            )
        return
    fragments = count_fragments(bytes(value))
    if fragments < 0:
        raise invalid("encapsulated Pixel Data has a broken item structure")
    if fragments < header.frames:  # every frame occupies at least one fragment (PS3.5 A.4)
        raise DicomItemError(
            ItemErrorCode.TRUNCATED,
            f"encapsulated Pixel Data holds {fragments} fragments for {header.frames} frames",
        )
