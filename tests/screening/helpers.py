"""Shared helpers for the screening tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from workers.plugin import Item
from workers.screening.params import ScreeningParams
from workers.screening.parsers import detect_format, iter_items

# Three well-known drugs, spelled as in PubChem.
ASPIRIN = "CC(=O)OC1=CC=CC=C1C(=O)O"
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
IBUPROFEN = "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O"
DRUGS = {"aspirin": ASPIRIN, "caffeine": CAFFEINE, "ibuprofen": IBUPROFEN}


def parse(path: Path, fmt: str | None = None, **params: object) -> list[Item]:
    """Detect the format the way the API does (file name + first 8 KiB), then stream the items."""
    model = ScreeningParams.model_validate(params)
    if fmt is None:
        with open(path, "rb") as fh:
            fmt = detect_format(path.name, fh.read(8192), model)
    return list(iter_items(path, fmt, model))


def ok(items: list[Item]) -> list[tuple[str | None, str]]:
    return [(i.key, i.payload["smiles"]) for i in items if i.error is None]


def codes(items: list[Item]) -> list[str | None]:
    return [i.error[0] if i.error else None for i in items]
