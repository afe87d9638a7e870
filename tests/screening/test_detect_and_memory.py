"""Format detection on the API side, and constant-memory streaming on the ingest side."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest

from tests.screening.conftest import WriteFile
from workers.screening.params import ScreeningParams
from workers.screening.parsers import detect_format, iter_items

AUTO = ScreeningParams()
SDF_HEAD = b"\n     RDKit          2D\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("lib.smi", "smi"),
        ("LIB.SMILES", "smi"),
        ("lib.ism.gz", "smi"),
        ("lib.csv", "csv"),
        ("lib.csv.GZ", "csv"),
        ("lib.tsv", "tsv"),
        ("lib.tab", "tsv"),
        ("lib.sdf", "sdf"),
        ("lib.sd.gz", "sdf"),
        ("one.mol", "sdf"),
        ("lib.jsonl", "jsonl"),
        ("lib.ndjson.gz", "jsonl"),
    ],
)
def test_suffix_decides(filename: str, expected: str) -> None:
    assert detect_format(filename, b"CCO ethanol\n", AUTO) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (SDF_HEAD, "sdf"),
        (b"junk\nM  END\n$$$$\n", "sdf"),
        (b"id,smiles\n1,CCO\n", "csv"),
        (b"CCO,ethanol\n", "csv"),
        (b"C1CC1 |$;;$| cyclopropane\n", "smi"),
        (b"ID\tSMILES\nm1\tCCO\n", "tsv"),
        (b"CCO\t1\n", "smi"),
        (b'{"smiles": "CCO"}\n', "jsonl"),
        (b'"CCO"\n', "jsonl"),
        (b"# comment\n\nCCO ethanol\n", "smi"),
        (b"", "smi"),
    ],
)
def test_sniffing_without_a_known_suffix(head: bytes, expected: str) -> None:
    assert detect_format("upload.txt", head, AUTO) == expected
    assert detect_format(None, head, AUTO) == expected


def test_sniffing_looks_inside_gzip_and_falls_back_to_smi() -> None:
    assert detect_format("upload", gzip.compress(b"id,smiles\n1,CCO\n"), AUTO) == "csv"
    assert detect_format("upload", gzip.compress(SDF_HEAD)[:30], AUTO) == "smi"  # too little to inflate
    assert detect_format("upload", b"\x1f\x8b" + b"not deflate at all", AUTO) == "smi"


def test_explicit_format_wins() -> None:
    params = ScreeningParams(input_format="tsv")
    assert detect_format("lib.csv", b"id,smiles\n", params) == "tsv"


def test_constant_memory_on_a_large_gzip_library(write_file: WriteFile) -> None:
    # 200k real-looking records (~8 MB of text); the parser must hold one line at a time, not the file.
    lines = (f"{'C' * (5 + i % 30)}O{'N' * (i % 3)}\tmol-{i:07d}\n" for i in range(200_000))
    path = write_file("big.smi.gz", "".join(lines), gz=True)
    count = 0
    last_key = None
    tracemalloc.start()
    try:
        for item in iter_items(path, "smi", AUTO):
            count += 1
            last_key = item.key
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000 and last_key == "mol-0199999"
    assert peak < 1_500_000, f"peak {peak} bytes while streaming 200k records"
