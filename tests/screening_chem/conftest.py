"""Real molecules for the screening chemistry tests: the NCI sample shipped in the RDKit wheel and DUD actives."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from rdkit import Chem, rdBase

REPO_ROOT = Path(__file__).resolve().parents[2]
DUD_FOLDER = Path("screening") / "benchmarking_platform" / "DUD"


@pytest.fixture(scope="session")
def nci_molecules() -> list[tuple[str, Chem.Mol]]:
    """(NCI id, molecule) for the NCI Open Database sample in RDKit's wheel (public domain); unparsable ones dropped."""
    import rdkit

    path = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"
    if not path.is_file():
        pytest.skip(f"this RDKit build does not ship its NCI sample data at {path}")
    molecules = []
    with rdBase.BlockLogs():
        for line in path.read_text().splitlines():
            smiles, nci_id = line.split()
            mol = Chem.MolFromSmiles(smiles)
            if mol is not None:
                molecules.append((nci_id, mol))
    return molecules


@pytest.fixture(scope="session")
def dud_cox2() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(actives, decoys) of the DUD COX-2 target as (ID, SMILES), from the shared benchmarking-platform data."""
    from core.settings import get_settings

    shared = get_settings().shared_data_dir
    folder = (shared if shared.is_absolute() else REPO_ROOT / shared) / DUD_FOLDER
    paths = [folder / f"cmp_list_DUD_cox2_{kind}.dat.gz" for kind in ("actives", "decoys")]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        pytest.skip(
            f"DUD data not found: {', '.join(missing)} (set MEDSIEVE_SHARED_DATA_DIR to the shared data folder)"
        )
    return _read_dud(paths[0]), _read_dud(paths[1])


def _read_dud(path: Path) -> list[tuple[str, str]]:
    # Tab-separated `Mol_Title ID SMILES` with a '#' header line.
    rows = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            _title, dud_id, smiles = line.split()
            rows.append((dud_id, smiles))
    return rows
