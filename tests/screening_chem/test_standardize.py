"""Standardization of real drugs (salts, zwitterions, charge-separated groups, tautomers) and of NCI molecules."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from workers.screening.chem.standardize import StandardizeError, StandardizeOptions, Standardizer, inchikey

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
DICLOFENAC = "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl"


@pytest.fixture(scope="module")
def standardizer() -> Standardizer:
    return Standardizer(StandardizeOptions())


@pytest.fixture(scope="module")
def tautomer_standardizer() -> Standardizer:
    return Standardizer(StandardizeOptions(tautomer=True))


def _run(standardizer: Standardizer, smiles: str) -> tuple[str, list[str], str | None]:
    parent, changes = standardizer(Chem.MolFromSmiles(smiles))
    return Chem.MolToSmiles(parent), changes, inchikey(parent)


def _canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.mark.parametrize(
    ("name", "smiles", "parent", "changes", "key"),
    [
        ("aspirin", ASPIRIN, ASPIRIN, [], "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"),
        ("caffeine", CAFFEINE, CAFFEINE, [], "RYYVLZVUVIJVGH-UHFFFAOYSA-N"),
        (
            "diclofenac sodium",
            "[Na+].[O-]C(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl",
            DICLOFENAC,
            ["fragments_removed", "neutralized"],
            "DCOPUUMXTXDBNB-UHFFFAOYSA-N",
        ),
        (
            "imipramine hydrochloride",
            "CN(C)CCCN1c2ccccc2CCc2ccccc21.Cl",
            "CN(C)CCCN1c2ccccc2CCc2ccccc21",
            ["fragments_removed"],
            "BCGWQEUPMDMJNV-UHFFFAOYSA-N",
        ),
        (
            "cetirizine dihydrochloride",
            "OC(=O)COCCN1CCN(CC1)C(c1ccccc1)c1ccc(Cl)cc1.Cl.Cl",
            "O=C(O)COCCN1CCN(C(c2ccccc2)c2ccc(Cl)cc2)CC1",
            ["fragments_removed"],
            "ZKLPARSLTMPFCP-UHFFFAOYSA-N",
        ),
        # The sodium written as a covalent bond (common in old SD files): cleanup disconnects the metal first.
        (
            "sodium benzoate, covalent Na",
            "[Na]OC(=O)c1ccccc1",
            "O=C(O)c1ccccc1",
            ["cleanup", "fragments_removed", "neutralized"],
            "WPYMKLBDIGXBTP-UHFFFAOYSA-N",
        ),
        ("glycine zwitterion", "[NH3+]CC(=O)[O-]", "NCC(=O)O", ["neutralized"], "DHMQDGOQFOQNFH-UHFFFAOYSA-N"),
        # Dapsone with its sulfone drawn charge-separated: cleanup's normalization restores S(=O)(=O).
        (
            "dapsone, charge-separated sulfone",
            "Nc1ccc(cc1)[S+2]([O-])([O-])c1ccc(N)cc1",
            "Nc1ccc(S(=O)(=O)c2ccc(N)cc2)cc1",
            ["cleanup"],
            "MQJKPEGWNLWLTK-UHFFFAOYSA-N",
        ),
    ],
)
def test_parent_changes_and_inchikey(
    standardizer: Standardizer, name: str, smiles: str, parent: str, changes: list[str], key: str
) -> None:
    got_parent, got_changes, got_key = _run(standardizer, smiles)
    assert got_parent == _canonical(parent), name
    assert got_changes == changes, name
    assert got_key == key == Chem.MolToInchiKey(Chem.MolFromSmiles(parent)), name


@pytest.mark.parametrize(
    ("pentavalent", "charge_separated", "key"),
    [
        ("Cc1ncc(N(=O)=O)n1CCO", "Cc1ncc([N+](=O)[O-])n1CCO", "VAOCPAMSLUNLGC-UHFFFAOYSA-N"),  # metronidazole, nitro
        (  # chlordiazepoxide, N-oxide
            "CNC1=Nc2ccc(Cl)cc2C(c2ccccc2)=N(=O)C1",
            "CNC1=Nc2ccc(Cl)cc2C(c2ccccc2)=[N+]([O-])C1",
            "ANTSCNMPPGJYLG-UHFFFAOYSA-N",
        ),
        ("Nc1cc(N2CCCCC2)nc(N)n1=O", "Nc1cc(N2CCCCC2)nc(N)[n+]1[O-]", "ZFMITUMMTDLWHR-UHFFFAOYSA-N"),  # minoxidil
    ],
)
def test_nitro_and_n_oxide_spellings_give_one_parent(
    standardizer: Standardizer, pentavalent: str, charge_separated: str, key: str
) -> None:
    # RDKit's sanitization already rewrites pentavalent nitro and N-oxide nitrogen when the SMILES is parsed, so
    # the standardizer sees one form: same parent, same key, and no step to credit.
    assert _run(standardizer, pentavalent) == _run(standardizer, charge_separated)
    parent, changes, got_key = _run(standardizer, charge_separated)
    assert parent == _canonical(charge_separated)
    assert changes == []
    assert got_key == key


def test_tautomer_only_when_asked(standardizer: Standardizer, tautomer_standardizer: Standardizer) -> None:
    hydroxypyridine, pyridone = "Oc1ccccn1", "O=c1cccc[nH]1"
    assert _run(standardizer, hydroxypyridine)[:2] == (hydroxypyridine, [])
    assert _run(standardizer, pyridone)[:2] == (pyridone, [])

    assert _run(tautomer_standardizer, hydroxypyridine)[:2] == (pyridone, ["tautomer"])
    assert _run(tautomer_standardizer, pyridone)[:2] == (pyridone, [])
    # The InChI's standard layer already merges the two tautomers: one key with or without the option.
    assert _run(standardizer, hydroxypyridine)[2] == _run(standardizer, pyridone)[2] == "UBQKCCHYAOITMY-UHFFFAOYSA-N"


def test_steps_can_be_switched_off() -> None:
    nothing = Standardizer(StandardizeOptions(cleanup=False, largest_fragment=False, neutralize=False))
    salt = "[Na+].[O-]C(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl"
    assert _run(nothing, salt)[:2] == (_canonical(salt), [])

    keep_charge = Standardizer(StandardizeOptions(neutralize=False))
    assert _run(keep_charge, salt)[:2] == (_canonical("[O-]C(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl"), ["fragments_removed"])


def test_explicit_hydrogens_are_not_a_change_and_input_is_untouched(standardizer: Standardizer) -> None:
    with_hs = Chem.AddHs(Chem.MolFromSmiles(ASPIRIN))  # as an SD file carries them
    atoms_before, smiles_before = with_hs.GetNumAtoms(), Chem.MolToSmiles(with_hs)
    parent, changes = standardizer(with_hs)
    assert (Chem.MolToSmiles(parent), changes) == (ASPIRIN, [])
    assert parent is not with_hs
    assert (with_hs.GetNumAtoms(), Chem.MolToSmiles(with_hs)) == (atoms_before, smiles_before)

    salt = Chem.MolFromSmiles("[Na+].[O-]C(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl")
    salt_smiles = Chem.MolToSmiles(salt)
    standardizer(salt)
    assert Chem.MolToSmiles(salt) == salt_smiles


@pytest.mark.parametrize("mol", [Chem.MolFromSmiles("[H][H]"), Chem.Mol()], ids=["dihydrogen", "empty"])
def test_nothing_left_is_an_error(standardizer: Standardizer, mol: Chem.Mol) -> None:
    with pytest.raises(StandardizeError, match="no heavy atoms left"):
        standardizer(mol)


def test_inchikey_none_when_inchi_cannot_describe_the_molecule() -> None:
    # A dummy atom (an R-group placeholder, as enumerated libraries carry) has no InChI.
    assert inchikey(Chem.MolFromSmiles("[*]C")) is None
    assert inchikey(Chem.Mol()) is None


def test_cleanup_matches_rdkit_cleanup_on_nci(nci_molecules: list[tuple[str, Chem.Mol]]) -> None:
    # The Standardizer reuses its step objects instead of calling rdMolStandardize.Cleanup; same output required.
    cleanup_only = Standardizer(StandardizeOptions(largest_fragment=False, neutralize=False))
    for nci_id, mol in nci_molecules[:1000]:
        expected = Chem.MolToSmiles(rdMolStandardize.Cleanup(mol))
        assert Chem.MolToSmiles(cleanup_only(mol)[0]) == expected, nci_id


def test_nci_parents_are_single_uncharged_fragments(
    standardizer: Standardizer, nci_molecules: list[tuple[str, Chem.Mol]]
) -> None:
    seen: set[str] = set()
    for nci_id, mol in nci_molecules[:1500]:
        try:
            parent, changes = standardizer(mol)
        except StandardizeError:
            continue  # the only exception a bad molecule may raise
        assert "." not in Chem.MolToSmiles(parent), nci_id
        assert changes == sorted(changes, key=["cleanup", "fragments_removed", "neutralized"].index), nci_id
        seen.update(changes)
    # The sample holds salts, charged and metal-bearing structures: every step must have fired somewhere.
    assert seen == {"cleanup", "fragments_removed", "neutralized"}
