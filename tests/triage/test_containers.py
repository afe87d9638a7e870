"""Splitting triage uploads: format detection, archive members as items, unsafe names, bounded reads."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from core.errors import UnsupportedMediaType
from workers.triage.containers import InputReader, MemberError, detect_format, iter_items, unsafe_name
from workers.triage.params import TriageParams

PARAMS = TriageParams()
PART10_HEAD = b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name.endswith("/"):
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name, data)
    return path


def test_detect_format_by_content_then_name() -> None:
    assert detect_format(None, PART10_HEAD, PARAMS) == "dicom"
    assert detect_format("x.bin", b"PK\x03\x04rest", PARAMS) == "zip"
    assert detect_format(None, b"PK\x05\x06" + b"\x00" * 18, PARAMS) == "zip"  # an empty archive
    assert detect_format("IM0001.DCM", b"\x00" * 200, PARAMS) == "dicom"  # preamble-less: the worker decides
    assert detect_format(None, b"\x08\x00\x05\x00CS", PARAMS) == "dicom"
    assert detect_format(None, b"plain text", TriageParams(input_format="zip")) == "zip"
    with pytest.raises(UnsupportedMediaType):
        detect_format("photo.png", b"\x89PNG\r\n\x1a\n", PARAMS)


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("study/series/IM1.dcm", False),
        ("a/../b.dcm", False),
        ("../escape.dcm", True),
        ("a/../../escape.dcm", True),
        ("/etc/passwd", True),
        ("C:/Windows/x.dcm", True),
        ("..\\windows\\escape.dcm", True),
        ("nul\x00byte.dcm", True),
    ],
)
def test_unsafe_names(name: str, unsafe: bool) -> None:
    assert unsafe_name(name) is unsafe


def test_zip_members_become_items_by_position_never_by_name(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "upload.zip",
        {
            "DOE_JOHN/": b"",
            "DOE_JOHN/IM1.dcm": b"one",
            "__MACOSX/DOE_JOHN/._IM1.dcm": b"apple double",
            "DOE_JOHN/.DS_Store": b"finder",
            "../evil.dcm": b"escape",
            "DOE_JOHN/IM2.dcm": b"two" * 100,
        },
    )
    items = list(iter_items(archive, "zip", PARAMS, max_file_bytes=100))
    assert [i.index for i in items] == [0, 1, 2]
    assert all(i.key is None for i in items)
    assert "DOE" not in repr([i.payload for i in items])  # names never reach the shard payload
    ok, evil, big = items
    assert ok.error is None
    assert evil.error is not None and evil.error[0] == "UNSAFE_PATH"
    assert big.error is not None and big.error[0] == "OVERSIZED"
    reader = InputReader(max_file_bytes=1000)
    assert reader.read(archive, ok.payload) == b"one"
    assert reader.read(archive, big.payload) == b"two" * 100
    reader.close()


def test_single_file_is_one_item_and_reads_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "one.dcm"
    path.write_bytes(b"x" * 5000)
    (item,) = iter_items(path, "dicom", PARAMS, max_file_bytes=10_000)
    assert item.payload == {}
    assert InputReader(10_000).read(path, item.payload) == b"x" * 5000
    with pytest.raises(MemberError) as info:
        InputReader(4096).read(path, item.payload)
    assert info.value.code == "OVERSIZED"


def test_corrupt_member_is_truncated_not_a_crash(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "c.zip", {"a.dcm": b"A" * 10_000, "b.dcm": b"B" * 10})
    raw = bytearray(archive.read_bytes())
    start = raw.index(b"a.dcm") + len(b"a.dcm")  # first local header's name, then the deflated data
    raw[start + 2 : start + 12] = b"\xff" * 10
    archive.write_bytes(bytes(raw))
    items = list(iter_items(archive, "zip", PARAMS, max_file_bytes=1 << 20))
    reader = InputReader(1 << 20)
    with pytest.raises(MemberError) as info:
        reader.read(archive, items[0].payload)
    assert info.value.code == "TRUNCATED"
    assert reader.read(archive, items[1].payload) == b"B" * 10


def test_not_a_zip_fails_the_input_clearly(tmp_path: Path) -> None:
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04 but nothing else")
    with pytest.raises(UnsupportedMediaType):
        list(iter_items(path, "zip", PARAMS, max_file_bytes=100))


def test_zip_bomb_member_is_oversized_by_declaration_and_by_bytes(tmp_path: Path) -> None:
    bomb = b"\x00" * (8 << 20)  # 8 MiB of zeros deflates to ~8 KiB: a 1000:1 ratio
    archive = _zip(tmp_path / "bomb.zip", {"bomb.dcm": bomb, "ok.dcm": b"fine"})
    assert archive.stat().st_size < 64 << 10
    items = list(iter_items(archive, "zip", PARAMS, max_file_bytes=1 << 20))
    assert items[0].error is not None and items[0].error[0] == "OVERSIZED"
    assert items[1].error is None

    # A forged archive declares 100 bytes for the same member: the declaration passes the ingest check, but the
    # read never yields more than was declared nor more than the cap, and the mismatch is a corrupt member.
    raw = bytearray(archive.read_bytes())
    local = raw.index(b"PK\x03\x04")
    raw[local + 22 : local + 26] = (100).to_bytes(4, "little")
    central = raw.index(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (100).to_bytes(4, "little")
    forged = tmp_path / "forged.zip"
    forged.write_bytes(bytes(raw))
    items = list(iter_items(forged, "zip", PARAMS, max_file_bytes=1 << 20))
    assert items[0].error is None  # the lie is only found by reading
    with pytest.raises(MemberError) as info:
        InputReader(1 << 20).read(forged, items[0].payload)
    assert info.value.code in ("TRUNCATED", "OVERSIZED")
