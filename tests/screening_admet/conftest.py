"""Shared fixtures: real molecules (ADMET-AI's own DrugBank-approved reference set) and one resident panel."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pandas as pd
import pytest
from rdkit import Chem, rdBase

from workers.screening.admet.panel import AdmetPanel

# Real drugs as salts, charged species, zwitterions and stereoisomers (PubChem SMILES): the cases where a
# featurizer or descriptor port most easily diverges (formal charges, disconnected fragments, chiral tags,
# double-bond stereo, a metal centre).
SPECIAL_DRUGS = {
    "imipramine hydrochloride": "CN(C)CCCN1C2=CC=CC=C2CCC3=CC=CC=C31.Cl",
    "sodium salicylate": "C1=CC=C(C(=C1)C(=O)[O-])O.[Na+]",
    "metformin hydrochloride": "CN(C)C(=N)N=C(N)N.Cl",
    "cisplatin": "N.N.Cl[Pt]Cl",
    "acetylcholine chloride": "CC(=O)OCC[N+](C)(C)C.[Cl-]",
    "L-dopa (zwitterion)": "C1=CC(=C(C=C1C[C@@H](C(=O)[O-])[NH3+])O)O",
    "tamoxifen citrate": "CC/C(=C(\\C1=CC=CC=C1)/C2=CC=C(C=C2)OCCN(C)C)/C3=CC=CC=C3.C(C(=O)O)C(CC(=O)O)(C(=O)O)O",
    "morphine sulfate": "CN1CC[C@]23[C@@H]4[C@H]1CC5=C2C(=C(C=C5)O)O[C@H]3[C@H](C=C4)O.OS(=O)(=O)O",
    "potassium clavulanate": "C1[C@@H]2N(C1=O)[C@H](/C(=C/CO)/O2)C(=O)[O-].[K+]",
    "lithium carbonate": "[Li+].[Li+].C(=O)([O-])[O-]",
}


def canonical(smiles: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    assert mol is not None, smiles
    return Chem.MolToSmiles(mol)


@pytest.fixture(scope="session")
def drugbank_smiles() -> list[str]:
    from admet_ai.constants import DEFAULT_DRUGBANK_PATH

    return pd.read_csv(DEFAULT_DRUGBANK_PATH)["smiles"].tolist()


SAMPLE_SIZE = 256


@pytest.fixture(scope="session")
def sample_smiles(drugbank_smiles: list[str]) -> list[str]:
    """The special cases, then DrugBank-approved drugs drawn with a fixed seed: 256 canonical SMILES.

    A multiple of ADMET-AI's batch size (64) on purpose: a molecule in ADMET-AI's last, partial batch gets
    slightly different float32 numbers than the same molecule in a full batch (test_parity.py shows this), and
    the comparison here is meant to be exact; the partial-batch case has its own test.
    """
    with rdBase.BlockLogs():
        out = list(dict.fromkeys(canonical(s) for s in SPECIAL_DRUGS.values()))
        for s in random.Random(20261123).sample(drugbank_smiles, SAMPLE_SIZE):
            if len(out) == SAMPLE_SIZE:
                break
            c = canonical(s)
            if c not in out:
                out.append(c)
    assert len(out) == SAMPLE_SIZE
    return out


@pytest.fixture(scope="session")
def panel() -> Iterator[AdmetPanel]:
    """In-process CPU panel (no worker processes): the reference configuration the variants are compared to."""
    p = AdmetPanel(device="cpu", physchem_workers=0)
    yield p
    p.close()


def mols_of(smiles: list[str]) -> list[Chem.Mol]:
    with rdBase.BlockLogs():
        return [Chem.MolFromSmiles(s) for s in smiles]
