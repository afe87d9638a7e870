"""Graph featurization equals Chemprop's SimpleMoleculeMolGraphFeaturizer + BatchMolGraph, array for array."""

from __future__ import annotations

import numpy as np
import pytest
from chemprop.data import BatchMolGraph
from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
from rdkit import Chem

from tests.screening_admet.conftest import mols_of
from workers.screening.admet.featurize import GraphArrays, GraphFeaturizer

# Atom and bond cases outside the one-hot choice lists: an element past Kr (Se is in, Xe is not), charge +3,
# five H, square-planar chirality, a dative bond, an atomless molecule, a lone atom, explicit [2H].
EDGE_CASES = [
    "",
    "[Xe]",
    "[Al+3].[Cl-].[Cl-].[Cl-]",
    "[NH4+]",
    "[PH5]",
    "FS(F)(F)(F)(F)F",
    "[Pt@SP1](Cl)(Cl)(N)N",
    "C[NH2]->[Cu]",
    "F/C=C/F",
    "[2H]C([2H])([2H])O",
    "c1ccc2[se]ccc2c1",
]


def chemprop_batch(mols: list[Chem.Mol]) -> BatchMolGraph:
    featurizer = SimpleMoleculeMolGraphFeaturizer()
    return BatchMolGraph([featurizer(m) for m in mols])


def assert_same(ours: GraphArrays, ref: BatchMolGraph) -> None:
    np.testing.assert_array_equal(ours.V, ref.V.numpy())
    np.testing.assert_array_equal(ours.E, ref.E.numpy())
    np.testing.assert_array_equal(ours.edge_index, ref.edge_index.numpy())
    np.testing.assert_array_equal(ours.rev_edge_index, ref.rev_edge_index.numpy())
    np.testing.assert_array_equal(ours.batch, ref.batch.numpy())
    assert ours.V.dtype == np.float32 and ours.E.dtype == np.float32
    assert ours.size == len(ref)


@pytest.fixture(scope="module")
def mols(sample_smiles: list[str]) -> list[Chem.Mol]:
    out = [m for m in mols_of(sample_smiles + EDGE_CASES) if m is not None]
    assert len(out) == len(sample_smiles) + len(EDGE_CASES)
    return out


def test_equals_chemprop(mols: list[Chem.Mol]) -> None:
    assert_same(GraphFeaturizer()(mols), chemprop_batch(mols))


def test_concat_of_chunks_equals_one_batch(mols: list[Chem.Mol]) -> None:
    featurizer = GraphFeaturizer()
    parts = [featurizer(mols[i : i + 13]) for i in range(0, len(mols), 13)]
    assert_same(GraphArrays.concat(parts), chemprop_batch(mols))


def test_round_trip_through_worker_pickle(mols: list[Chem.Mol]) -> None:
    """Worker processes receive Mol.ToBinary() bytes; the rebuilt molecules featurize identically."""
    rebuilt = [Chem.Mol(m.ToBinary()) for m in mols]
    assert_same(GraphFeaturizer()(rebuilt), chemprop_batch(mols))
