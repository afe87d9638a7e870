"""Per-record errors stay per item; input-level problems (binary, corrupt gzip) raise InvalidInput."""

from __future__ import annotations

import gzip

import pytest

from core.errors import InvalidInput
from tests.screening.conftest import WriteFile
from tests.screening.helpers import codes, ok, parse
from workers.screening.params import ScreeningParams
from workers.screening.parsers import detect_format

BAD_UTF8 = b"\xc3\x28"  # a UTF-8 lead byte followed by a non-continuation byte


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_bad_bytes_are_one_encoding_error_per_record(write_file: WriteFile, gz: bool) -> None:
    smi = b"CCO a\nC" + BAD_UTF8 + b"C b\nCCN c\n"
    items = parse(write_file("enc.smi", smi, gz=gz))
    assert codes(items) == [None, "ENCODING_ERROR", None]
    assert items[1].error == ("ENCODING_ERROR", "record is not valid UTF-8 (byte 0xc3 at offset 1)")
    csv = b"smiles,id\nCCO,a\nC" + BAD_UTF8 + b",b\nCCN,ok\xe9\nCCC,c\n"
    assert codes(parse(write_file("enc.csv", csv, gz=gz))) == [None, "ENCODING_ERROR", "ENCODING_ERROR", None]
    jsonl = b'"CCO"\n"C' + BAD_UTF8 + b'"\n{"smiles": "C\\u0000C"}\n"CCN"\n'
    assert codes(parse(write_file("enc.jsonl", jsonl, gz=gz))) == [None, "ENCODING_ERROR", "ENCODING_ERROR", None]


def test_bad_bytes_in_one_sdf_record(write_file: WriteFile) -> None:
    good = "\n  test\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0    0.0    0.0 C   0  0\nM  END\n"
    data = (good + "$$$$\n").encode() + b"bad" + BAD_UTF8 + b"\n" + good[1:].encode() + b"$$$$\n" + good.encode()
    assert codes(parse(write_file("enc.sdf", data))) == [None, "ENCODING_ERROR", None]


def test_overlong_records_are_skipped_without_loading_them(write_file: WriteFile, record_limit: int) -> None:
    long_smiles = "C" * (record_limit + 1)
    huge_line = "C" * (50 * record_limit)  # beyond the byte cap of one readline: skipped in pieces
    smi = f"CCO a\n{long_smiles} b\n{huge_line}\nCCN c\n"
    items = parse(write_file("long.smi", smi))
    assert codes(items) == [None, "RECORD_TOO_LONG", "RECORD_TOO_LONG", None]
    assert items[1].error == ("RECORD_TOO_LONG", f"record is longer than {record_limit} characters")
    assert ok(items) == [("a", "CCO"), ("c", "CCN")]
    csv = f"smiles,id\nCCO,a\n{huge_line},b\n{long_smiles},c\nCCN,d\n"
    assert codes(parse(write_file("long.csv", csv))) == [None, "RECORD_TOO_LONG", "RECORD_TOO_LONG", None]
    jsonl = f'"CCO"\n"{huge_line}"\n"{long_smiles}"\n"CCN"\n'
    assert codes(parse(write_file("long.jsonl", jsonl))) == [None, "RECORD_TOO_LONG", "RECORD_TOO_LONG", None]
    small = "\n  t\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0    0.0    0.0 C   0  0\nM  END\n$$$$\n"
    big = small.replace("M  END\n", "M  END\n> <NOTE>\n" + "x" * 90 + "\n" + "y" * 90 + "\n\n")
    assert codes(parse(write_file("long.sdf", small + big + small))) == [None, "RECORD_TOO_LONG", None]


def test_unclosed_csv_quote_is_bounded_and_reported(write_file: WriteFile) -> None:
    rows = "".join(f"C{'C' * (i % 5)},{i}\n" for i in range(30_000))
    items = parse(write_file("quote.csv", 'smiles,id\nCCO,"never closed\n' + rows))
    # The open quote swallows following lines into one field, but only up to csv's field size limit
    # (131072 characters); that row becomes one error and parsing resumes with the next line.
    assert codes(items)[0] == "RECORD_TOO_LONG" and "field limit" in items[0].error[1]  # type: ignore[index]
    assert codes(items)[1:] == [None] * (len(items) - 1)
    assert ok(items)[-1] == ("29999", "CCCCC") and 10_000 < len(items) < 30_000


def test_messages_do_not_echo_long_records(write_file: WriteFile) -> None:
    junk = "{" + "x" * 5000
    items = parse(write_file("junk.jsonl", junk + "\n"))
    assert items[0].error is not None and items[0].error[0] == "PARSE_ERROR"
    assert len(items[0].error[1]) < 120 and "xxxxx" not in items[0].error[1]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_binary_input_is_rejected(write_file: WriteFile, gz: bool) -> None:
    blob = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    path = write_file("image.smi", blob, gz=gz)
    with pytest.raises(InvalidInput, match="looks binary"):
        detect_format("image.smi", path.read_bytes()[:8192], ScreeningParams())
    with pytest.raises(InvalidInput, match="looks binary"):
        parse(path, fmt="smi")


def test_utf16_gets_a_specific_message(write_file: WriteFile) -> None:
    path = write_file("u16.smi", "CCO ethanol\n".encode("utf-16"))
    with pytest.raises(InvalidInput, match="UTF-16"):
        detect_format(path.name, path.read_bytes(), ScreeningParams())


def test_corrupt_gzip_is_invalid_input(write_file: WriteFile) -> None:
    data = gzip.compress(("".join(f"C{'C' * (i % 7)} m{i}\n" for i in range(50_000))).encode())
    path = write_file("cut.smi.gz", data[: len(data) // 2])
    with pytest.raises(InvalidInput, match="gzip input is corrupt or truncated"):
        parse(path)


def test_random_binary_after_the_head_is_per_item(write_file: WriteFile) -> None:
    # NULs past the sniffed head cannot be rejected up front; they stay confined to their records.
    tail = bytes(range(256)).replace(b"\n", b"") * 4
    items = parse(write_file("late.smi", b"CCO a\n" * 2000 + tail + b"\nCCN b\n"))
    assert items[-2].error == ("ENCODING_ERROR", "record contains NUL bytes") and ok(items)[-1] == ("b", "CCN")
    assert len(items) == 2002
