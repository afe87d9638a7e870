"""Physchem columns equal admet_ai.physchem.compute_physicochemical_properties exactly."""

from __future__ import annotations

import numpy as np
from admet_ai.physchem import PHYSCHEM_PROPERTY_TO_FUNCTION, compute_physicochemical_properties

from tests.screening_admet.conftest import mols_of
from workers.screening.admet.physchem import PHYSCHEM_COLUMNS, Physchem


def test_column_names_and_order() -> None:
    assert tuple(PHYSCHEM_PROPERTY_TO_FUNCTION) == PHYSCHEM_COLUMNS


def test_values_equal_admet_ai(sample_smiles: list[str]) -> None:
    smiles = sample_smiles[:120] + sample_smiles[-10:]  # includes the salts, charges and stereo cases
    expected = compute_physicochemical_properties(smiles, mols_of(smiles))
    got = Physchem()(mols_of(smiles))
    assert list(expected.columns) == list(PHYSCHEM_COLUMNS)
    np.testing.assert_array_equal(got, expected.to_numpy(dtype=np.float64))
