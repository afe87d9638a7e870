"""ADMET-AI's physicochemical columns (admet_ai.physchem), the same RDKit calls without the pandas frame.

ADMET-AI builds one dict per molecule and a DataFrame from them; here the values go straight into a float64
row. Lipinski reuses this row's MW/logP/HBA/HBD instead of computing them a second time: they are the same
deterministic RDKit functions ADMET-AI's lipinski_rule_of_five calls, so the count is the same.
Imports RDKit only (no torch), because the worker processes of workers.screening.admet.pool import it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams
from rdkit.Chem.QED import qed
from rdkit.Chem.rdMolDescriptors import (
    CalcCrippenDescriptors,
    CalcNumAtomStereoCenters,
    CalcNumHBA,
    CalcNumHBD,
    CalcTPSA,
    _CalcMolWt,
)

# admet_ai.physchem.PHYSCHEM_PROPERTY_TO_FUNCTION's keys, in its order (checked against it in the tests).
PHYSCHEM_COLUMNS: tuple[str, ...] = (
    "molecular_weight",
    "logP",
    "hydrogen_bond_acceptors",
    "hydrogen_bond_donors",
    "Lipinski",
    "QED",
    "stereo_centers",
    "tpsa",
    "PAINS_alert",
    "BRENK_alert",
    "NIH_alert",
)


def _catalog(which: FilterCatalogParams.FilterCatalogs) -> FilterCatalog:
    params = FilterCatalogParams()
    params.AddCatalog(which)
    return FilterCatalog(params)


class Physchem:
    """Holds the three alert catalogs (building them takes ~0.1 s, so once per process)."""

    def __init__(self) -> None:
        kinds = FilterCatalogParams.FilterCatalogs
        self._pains = _catalog(kinds.PAINS)
        self._brenk = _catalog(kinds.BRENK)
        self._nih = _catalog(kinds.NIH)

    def row(self, mol: Chem.Mol) -> list[float]:
        mw = _CalcMolWt(mol)  # what Descriptors.MolWt forwards to
        logp = CalcCrippenDescriptors(mol)[0]  # what Crippen.MolLogP forwards to
        hba = CalcNumHBA(mol)
        hbd = CalcNumHBD(mol)
        lipinski = float(sum([mw <= 500, logp <= 5, hba <= 10, hbd <= 5]))
        return [
            mw,
            logp,
            hba,
            hbd,
            lipinski,
            qed(mol),
            CalcNumAtomStereoCenters(mol),
            CalcTPSA(mol),
            len(self._pains.GetMatches(mol)),
            len(self._brenk.GetMatches(mol)),
            len(self._nih.GetMatches(mol)),
        ]

    def __call__(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        out = np.empty((len(mols), len(PHYSCHEM_COLUMNS)), dtype=np.float64)
        for i, mol in enumerate(mols):
            out[i] = self.row(mol)
        return out
