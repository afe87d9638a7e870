"""Worker-side checks of a screening job's parameters (they need RDKit, which the API never imports)."""

from __future__ import annotations

import csv
import importlib.util
from functools import lru_cache
from pathlib import Path

from core.errors import InvalidParameters
from workers.screening.chem.filters import FilterConfigError, FilterSet
from workers.screening.chem.similarity import ReferenceError
from workers.screening.params import ScreeningParams
from workers.screening.references import reference_set


def check_params(p: ScreeningParams) -> None:
    """Raises InvalidParameters naming the first bad SMARTS, reference SMILES or ranking column."""
    f = p.filters
    try:
        FilterSet(f.families, f.include_smarts, f.exclude_smarts, {k: (r.min, r.max) for k, r in f.ranges.items()})
    except FilterConfigError as exc:
        raise InvalidParameters(f"filters: {exc}") from exc
    if p.similarity is not None:
        try:
            reference_set(p)
        except ReferenceError as exc:
            raise InvalidParameters(f"similarity.references: {exc}") from exc
    if p.admet:
        unknown = sorted(set(p.ranking.admet_penalties) - set(admet_columns()))
        if unknown:
            raise InvalidParameters(
                f"ranking.admet_penalties: unknown ADMET-AI column(s) {', '.join(map(repr, unknown))}",
                details={"known": admet_columns()},
            )


@lru_cache(maxsize=1)
def admet_columns() -> list[str]:
    """ADMET-AI's prediction columns, read from the header of the DrugBank reference it ships. The package is
    located, not imported: its __init__ loads torch, Chemprop and Lightning (~10 s, ~500 MiB), which an ingest
    task has no use for."""
    spec = importlib.util.find_spec("admet_ai")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidParameters("the ADMET panel is not installed on this worker (package admet-ai)")
    path = Path(spec.submodule_search_locations[0]) / "resources" / "data" / "drugbank_approved.csv"
    with path.open(newline="") as fh:
        header = next(csv.reader(fh))
    return [c for c in header if c not in _DRUGBANK_ONLY]


_DRUGBANK_ONLY = frozenset({"smiles", "name", "id", "atc", "atc_name_1", "atc_name_2", "atc_name_3", "atc_name_4"})
