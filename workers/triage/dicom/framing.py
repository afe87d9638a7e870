"""Byte-level framing check of a DICOM stream, run before pydicom parses it.

pydicom is lenient on purpose: a file cut inside an element header or value comes back as a shorter dataset
without any error, and a missing sequence delimiter silently drops elements. For triage a cut file must be
reported as TRUNCATED, not as "no pixel data" or as an image with garbage at the end. So this module walks the
element structure itself (tags, VRs, lengths, sequence items) without interpreting any value, and checks that
every declared length fits in the bytes we have. It also bounds sequence nesting (pydicom recurses per level)
and inflates deflated data sets under a size cap (a zip bomb must not reach pydicom's uncapped inflate).

Only structure is read here (tags, VRs, lengths): no value leaves this module, and messages are generic.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR

from core.enums import ItemErrorCode
from workers.triage.dicom.errors import DicomItemError

MAX_SEQUENCE_DEPTH = 32  # real objects nest a handful of levels; this is far below Python's recursion limit

TS_IMPLICIT_LE = "1.2.840.10008.1.2"
TS_EXPLICIT_LE = "1.2.840.10008.1.2.1"
TS_DEFLATED_LE = "1.2.840.10008.1.2.1.99"
TS_EXPLICIT_BE = "1.2.840.10008.1.2.2"

_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
# Explicit-VR elements with these VRs have 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())

_ITEM = 0xFFFEE000
_ITEM_DELIMITER = 0xFFFEE00D
_SEQUENCE_DELIMITER = 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class Encoding:
    little_endian: bool
    implicit_vr: bool


@dataclass(frozen=True)
class FileMeta:
    dataset_offset: int  # first byte after the group-0002 elements
    transfer_syntax: str | None  # the declared (0002,0010), stripped; None when absent
    media_storage_sop_class: str | None = None  # (0002,0002): tells a DICOMDIR before its records are walked


def _truncated(what: str) -> DicomItemError:
    return DicomItemError(ItemErrorCode.TRUNCATED, f"file ends inside {what}")


def read_file_meta(buf: bytes, offset: int) -> FileMeta:
    """Walk the group-0002 elements (always explicit VR little endian); pick out the two UIDs we route on."""
    end = len(buf)
    pos = offset
    uids: dict[int, str | None] = {0x0002: None, 0x0010: None}
    while pos + 4 <= end:
        group, element = struct.unpack_from("<HH", buf, pos)
        if group != 0x0002:
            break
        if pos + 8 > end:
            raise _truncated("the file meta information")
        vr = bytes(buf[pos + 4 : pos + 6])
        if vr in _LONG_VRS:
            if pos + 12 > end:
                raise _truncated("the file meta information")
            length = struct.unpack_from("<L", buf, pos + 8)[0]
            header = 12
        elif vr in _VRS:
            length = struct.unpack_from("<H", buf, pos + 6)[0]
            header = 8
        else:  # some writers use implicit VR here; pydicom copes, so do we
            length = struct.unpack_from("<L", buf, pos + 4)[0]
            header = 8
        if length == _UNDEFINED or pos + header + length > end:
            raise _truncated("the file meta information")
        if element in uids:
            value = buf[pos + header : pos + header + length].decode("ascii", "replace")
            uids[element] = value.rstrip("\x00 ").strip() or None
        pos += header + length
    else:
        if pos < end:  # 1-3 stray bytes where the next tag should be
            raise _truncated("the file meta information")
    return FileMeta(pos, uids[0x0010], uids[0x0002])


def sniff_encoding(buf: bytes, offset: int, little_endian: bool) -> Encoding:
    """Explicit or implicit VR from the first element, as pydicom does; the declared syntax is sometimes wrong."""
    explicit = offset + 6 <= len(buf) and bytes(buf[offset + 4 : offset + 6]) in _VRS
    return Encoding(little_endian=little_endian, implicit_vr=not explicit)


def inflate(buf: bytes, offset: int, max_bytes: int) -> bytes:
    """Inflate a deflated data set (raw deflate, PS3.5 A.5) without ever holding more than `max_bytes`."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(buf[offset:], max_bytes + 1)
    except zlib.error:
        raise DicomItemError(ItemErrorCode.INVALID_HEADER, "the deflated data set is corrupt") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise DicomItemError(
            ItemErrorCode.OVERSIZED, f"the deflated data set inflates beyond the cap of {max_bytes} bytes"
        )
    if not inflater.eof:
        raise _truncated("the deflated data set")
    return out


def _is_sequence_tag(tag: int) -> bool:
    # Implicit VR carries no VR: pydicom parses a defined-length element as a sequence when the dictionary says
    # SQ, so walk it too (the nesting bound must hold for those as well).
    if tag >> 16 & 1:  # private: unknown to the dictionary
        return False
    try:
        return dictionary_VR(tag) == "SQ"
    except KeyError:
        return False


class _Walker:
    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.end = len(buf)

    def _tag(self, pos: int, little: bool) -> int:
        group, element = struct.unpack_from("<HH" if little else ">HH", self.buf, pos)
        return int(group) << 16 | int(element)

    def _u32(self, pos: int, little: bool) -> int:
        return int(struct.unpack_from("<L" if little else ">L", self.buf, pos)[0])

    def elements(self, pos: int, stop: int, enc: Encoding, depth: int, in_item: bool) -> int:
        """Walk elements from `pos` up to `stop`, or to the item delimiter when inside an undefined-length item."""
        little = enc.little_endian
        while pos < stop:
            if stop - pos < 8:
                raise _truncated("an element header")
            tag = self._tag(pos, little)
            if tag == _ITEM_DELIMITER and in_item:
                return pos + 8
            if tag >> 16 == 0xFFFE:
                if not in_item and self._u32(pos + 4, little) == 0:
                    pos += 8  # a stray zero-length delimiter at the top level: pydicom skips it too
                    continue
                raise DicomItemError(ItemErrorCode.INVALID_HEADER, "malformed sequence item structure")
            vr = b"" if enc.implicit_vr else bytes(self.buf[pos + 4 : pos + 6])
            if vr in _LONG_VRS:
                if stop - pos < 12:
                    raise _truncated("an element header")
                length = self._u32(pos + 8, little)
                pos += 12
            elif vr in _VRS:
                length = struct.unpack_from("<H" if little else ">H", self.buf, pos + 6)[0]
                pos += 8
            else:  # implicit VR, or an unknown VR that pydicom also reads as implicit
                length = self._u32(pos + 4, little)
                pos += 8
            if length == _UNDEFINED:
                if tag == _PIXEL_DATA and vr != b"SQ":
                    pos = self.items(pos, None, enc, depth, datasets=False)
                elif vr in (b"SQ", b""):
                    pos = self.items(pos, None, enc, depth + 1, datasets=True)
                elif vr == b"UN":  # an undefined-length UN is a sequence in implicit VR little endian (PS3.5 6.2.2)
                    pos = self.items(pos, None, Encoding(True, True), depth + 1, datasets=True)
                else:
                    pos = self._skip_to_sequence_delimiter(pos, little)
                continue
            if pos + length > stop:
                raise _truncated("an element value")
            if length and (vr == b"SQ" or (enc.implicit_vr and _is_sequence_tag(tag))):
                self.items(pos, pos + length, enc, depth + 1, datasets=True)
            pos += length
        if in_item:
            raise _truncated("a sequence item")
        return pos

    def items(self, pos: int, stop: int | None, enc: Encoding, depth: int, datasets: bool) -> int:
        """Walk sequence items (or pixel data fragments) up to `stop`, or to the sequence delimiter."""
        if depth > MAX_SEQUENCE_DEPTH:
            raise DicomItemError(
                ItemErrorCode.INVALID_HEADER, f"sequences nest deeper than {MAX_SEQUENCE_DEPTH} levels"
            )
        little = enc.little_endian
        limit = self.end if stop is None else stop
        while True:
            if stop is not None and pos == stop:
                return pos
            if limit - pos < 8:
                raise _truncated("a sequence")
            tag = self._tag(pos, little)
            length = self._u32(pos + 4, little)
            pos += 8
            if tag == _SEQUENCE_DELIMITER and stop is None:
                return pos
            if tag != _ITEM:
                raise DicomItemError(ItemErrorCode.INVALID_HEADER, "malformed sequence item structure")
            if length == _UNDEFINED:
                if not datasets:
                    raise DicomItemError(ItemErrorCode.INVALID_HEADER, "pixel data fragment without a length")
                pos = self.elements(pos, limit, enc, depth, in_item=True)
                continue
            if pos + length > limit:
                raise _truncated("a sequence item")
            if datasets:
                self.elements(pos, pos + length, enc, depth, in_item=False)
            pos += length

    def _skip_to_sequence_delimiter(self, pos: int, little: bool) -> int:
        marker = struct.pack("<HHL" if little else ">HHL", 0xFFFE, 0xE0DD, 0)
        found = self.buf.find(marker, pos)
        if found < 0:
            raise _truncated("an undefined-length value")
        return found + len(marker)


def check_framing(buf: bytes, offset: int, enc: Encoding) -> bool:
    """Raise TRUNCATED/INVALID_HEADER if the data set at `offset` is not whole; return whether it has elements."""
    _Walker(buf).elements(offset, len(buf), enc, depth=0, in_item=False)
    return offset < len(buf)
