"""Fixtures for the screening tests: input files on disk (plain or gzip) and a small record-length limit."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import reset_settings_cache

WriteFile = Callable[..., Path]


@pytest.fixture()
def write_file(tmp_path: Path) -> WriteFile:
    def write(name: str, content: str | bytes, gz: bool = False) -> Path:
        data = content.encode() if isinstance(content, str) else content
        path = tmp_path / name
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


@pytest.fixture()
def record_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A small max_record_chars through the real settings object."""
    monkeypatch.setenv("MEDSIEVE_MAX_RECORD_CHARS", "200")
    reset_settings_cache()
    yield 200
    monkeypatch.delenv("MEDSIEVE_MAX_RECORD_CHARS")
    reset_settings_cache()


@pytest.fixture(scope="session")
def nci_dir() -> Path:
    """Real molecules from the NCI Open Database, shipped inside the RDKit wheel (public domain)."""
    import rdkit

    path = Path(rdkit.__file__).parent / "Data" / "NCI"
    if not (path / "first_5K.smi").is_file():
        pytest.skip(f"this RDKit build does not ship its NCI sample data at {path}")
    return path
