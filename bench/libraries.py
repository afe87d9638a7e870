"""Real-derived test and benchmark libraries.

The molecules are the 5,000 NCI structures shipped inside the RDKit wheel (rdkit/Data/NCI/first_5K.smi, NCI
open data). A library of n rows cycles through them; every pass after the first writes a different random
SMILES string of each molecule (RDKit doRandom), so rows are distinct inputs that parse to real molecules.
Every row gets a unique ID. Needs RDKit, so it is used by tests and benchmarks only, never by the product.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from pathlib import Path


def nci_molecules() -> list[tuple[str, str]]:
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1]))
    return out


def iter_library(n: int, seed: int = 0) -> Iterator[tuple[str, str]]:
    from rdkit import Chem, rdBase

    rdBase.DisableLog("rdApp.*")
    base = nci_molecules()
    rng = random.Random(seed)
    mols: list[Chem.Mol | None] = [None] * len(base)
    for i in range(n):
        k, j = divmod(i, len(base))
        smiles, ident = base[j]
        if k == 0:
            yield smiles, f"NCI{ident}"
            continue
        if mols[j] is None:
            mols[j] = Chem.MolFromSmiles(smiles)
        mol = mols[j]
        if mol is None:  # keep the row count; the unparsable original becomes a per-item error downstream
            yield smiles, f"NCI{ident}_v{k}"
            continue
        Chem.rdBase.SeedRandomNumberGenerator(rng.randrange(1 << 30))
        yield Chem.MolToSmiles(mol, doRandom=True, canonical=False), f"NCI{ident}_v{k}"


def write_library(path: Path, n: int, seed: int = 0) -> Path:
    """Write n rows as `SMILES<space>ID` lines (gzip when the name ends in .gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as fh:
        fh.write("smiles id\n")
        for smiles, ident in iter_library(n, seed):
            fh.write(f"{smiles} {ident}\n")
    return path
