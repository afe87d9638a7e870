"""Filter families, user SMARTS and property ranges on real drugs and NCI compounds."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams
from rdkit.Chem.QED import qed

from workers.screening.chem.filters import FAMILIES, PROPERTY_NAMES, FilterConfigError, FilterSet, properties

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
IBUPROFEN = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
IMATINIB = "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"
TELMISARTAN = "CCCc1nc2c(C)cc(-c3nc4ccccc4n3C)cc2n1Cc1ccc(-c2ccccc2C(=O)O)cc1"
TAMOXIFEN = "CC/C(=C(\\c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1"
MONTELUKAST = "CC(C)(O)c1ccccc1CC[C@@H](SCC1(CC(=O)O)CC1)c1cccc(/C=C/c2ccc3ccc(Cl)cc3n2)c1"
LAPATINIB = "CS(=O)(=O)CCNCc1ccc(-c2ccc3ncnc(Nc4ccc(OCc5cccc(F)c5)c(Cl)c4)c3c2)o1"
METHOTREXATE = "CN(Cc1cnc2nc(N)nc(N)c2n1)c1ccc(C(=O)N[C@@H](CCC(=O)O)C(=O)O)cc1"
# Structural-alert examples, each a real compound:
TOLUQUINONE = "CC1=CC(=O)C=CC1=O"  # 2-methyl-1,4-benzoquinone, NCI Open Database no. 1 (RDKit's first_5K.smi)
DOPAMINE = "NCCc1ccc(O)c(O)c1"  # catechol neurotransmitter and drug
METHYLPHENOTHIAZINE = "CN1C2=C(SC3=C1C=CC=C3)C=CC=C2"  # 10-methylphenothiazine, NCI no. 120 (first_5K.smi)
N_BROMOSUCCINIMIDE = "BrN1C(=O)CCC1=O"  # reactive brominating reagent, NCI no. 16 (first_5K.smi)
BENZYLIDENE_RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # (5Z)-5-benzylidene-rhodanine, the archetypal PAINS scaffold


def _check(filters: FilterSet, smiles: str) -> list[str]:
    mol = Chem.MolFromSmiles(smiles)
    props = properties(mol)
    props["qed"] = qed(mol)
    return filters.check(mol, props)


def test_properties_of_aspirin() -> None:
    props = properties(Chem.MolFromSmiles(ASPIRIN))
    assert set(props) == set(PROPERTY_NAMES) - {"qed"}
    assert props["mw"] == pytest.approx(180.159, abs=1e-3)
    assert props["clogp"] == pytest.approx(1.3101, abs=1e-4)
    assert props["tpsa"] == pytest.approx(63.6, abs=1e-6)
    assert props["fsp3"] == pytest.approx(1 / 9)
    counts = {name: props[name] for name in ("hbd", "hba", "rotatable_bonds", "heavy_atoms", "rings")}
    assert counts == {"hbd": 1, "hba": 3, "rotatable_bonds": 2, "heavy_atoms": 13, "rings": 1}
    assert (props["aromatic_rings"], props["formal_charge"]) == (1, 0)


def test_lipinski_fails_only_with_two_violations() -> None:
    lipinski = FilterSet(["lipinski"])
    assert _check(lipinski, TELMISARTAN) == ["lipinski: 2 violations (mw 514.6 > 500; clogp 7.26 > 5)"]
    assert _check(lipinski, TAMOXIFEN) == []  # cLogP 6.0 is its only violation
    assert properties(Chem.MolFromSmiles(TAMOXIFEN))["clogp"] > 5
    assert _check(lipinski, IMATINIB) == []


def test_veber_fails_on_each_limit() -> None:
    veber = FilterSet(["veber"])
    assert _check(veber, MONTELUKAST) == ["veber: rotatable_bonds 12 > 10"]
    assert _check(veber, METHOTREXATE) == ["veber: tpsa 210.5 > 140"]
    assert _check(veber, IMATINIB) == []


@pytest.mark.parametrize(
    ("family", "smiles", "reasons"),
    [
        ("pains_a", TOLUQUINONE, ["pains_a: quinone_A(370)"]),
        ("pains_a", BENZYLIDENE_RHODANINE, ["pains_a: ene_rhod_A(235)"]),
        ("pains_b", DOPAMINE, ["pains_b: catechol_A(92)"]),
        ("pains_c", METHYLPHENOTHIAZINE, ["pains_c: het_thio_666_A(13)"]),
        ("brenk", N_BROMOSUCCINIMIDE, ["brenk: N-halo", "brenk: phthalimide"]),
        ("brenk", DOPAMINE, ["brenk: catechol"]),
        ("nih", N_BROMOSUCCINIMIDE, ["nih: halogen_heteroatom"]),
        ("nih", BENZYLIDENE_RHODANINE, ["nih: rhodanine"]),
    ],
)
def test_alert_family_trips(family: str, smiles: str, reasons: list[str]) -> None:
    assert _check(FilterSet([family]), smiles) == reasons


@pytest.mark.parametrize("family", ["pains_a", "pains_b", "pains_c", "brenk", "nih"])
@pytest.mark.parametrize("smiles", [CAFFEINE, IBUPROFEN, IMATINIB], ids=["caffeine", "ibuprofen", "imatinib"])
def test_alert_family_passes_clean_drugs(family: str, smiles: str) -> None:
    assert _check(FilterSet([family]), smiles) == []


def test_all_families_reasons_in_configuration_order() -> None:
    everything = FilterSet(list(FAMILIES))
    assert _check(everything, TOLUQUINONE) == ["pains_a: quinone_A(370)", "brenk: chinone_1", "nih: bis_keto_olefin"]
    assert _check(everything, IBUPROFEN) == []
    assert _check(FilterSet(["nih", "veber", "brenk", "nih"]), N_BROMOSUCCINIMIDE) == [
        "nih: halogen_heteroatom",
        "brenk: N-halo",
        "brenk: phthalimide",
    ]
    assert _check(FilterSet(["brenk", "lipinski", "veber"]), LAPATINIB) == [
        "brenk: Aliphatic_long_chain",
        "lipinski: 2 violations (mw 581.1 > 500; clogp 6.14 > 5)",
        "veber: rotatable_bonds 11 > 10",
    ]


def test_given_properties_are_used_not_recomputed() -> None:
    mol = Chem.MolFromSmiles(ASPIRIN)
    props = properties(mol) | {"qed": 0.5, "mw": 612.3, "clogp": 5.61}
    assert FilterSet(["lipinski"]).check(mol, props) == ["lipinski: 2 violations (mw 612.3 > 500; clogp 5.61 > 5)"]


def test_include_and_exclude_smarts() -> None:
    assert _check(FilterSet([], include_smarts=["c1ccccc1", "[#7]"]), ASPIRIN) == []
    assert _check(FilterSet([], include_smarts=["[#7]", "[#16]"]), ASPIRIN) == [
        "include_smarts: matches none of 2 patterns"
    ]
    acid, ester, amine = "C(=O)[OX2H1]", "[#6]C(=O)O[#6]", "[NX3;H2]"
    assert _check(FilterSet([], exclude_smarts=[acid, ester, amine]), ASPIRIN) == [
        f"exclude_smarts: matches {acid!r}",
        f"exclude_smarts: matches {ester!r}",
    ]


def test_ranges() -> None:
    ranges = {"mw": (200.0, 500.0), "qed": (0.6, None), "rotatable_bonds": (None, 1.0)}
    assert _check(FilterSet([], ranges=ranges), ASPIRIN) == [
        "range mw: 180.2 < 200",
        "range qed: 0.550 < 0.6",
        "range rotatable_bonds: 2 > 1",
    ]
    assert _check(FilterSet([], ranges={"mw": (100.0, None), "heavy_atoms": (None, 20.0)}), ASPIRIN) == []


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [
        ({"families": ["lipinski", "pains_d"]}, "'pains_d'"),
        ({"families": [], "include_smarts": ["c1ccc"]}, "include_smarts: invalid SMARTS 'c1ccc'"),
        ({"families": [], "exclude_smarts": ["C(=O"]}, "exclude_smarts: invalid SMARTS 'C(=O'"),
        ({"families": [], "exclude_smarts": [""]}, "exclude_smarts: invalid SMARTS ''"),
        ({"families": [], "ranges": {"logd": (None, 3.0)}}, "unknown property 'logd'"),
        ({"families": [], "ranges": {"mw": (500.0, 200.0)}}, "range mw: min 500 is greater than max 200"),
    ],
)
def test_bad_configuration_names_the_culprit(kwargs: dict, culprit: str) -> None:
    with pytest.raises(FilterConfigError) as raised:
        FilterSet(**kwargs)
    assert culprit in str(raised.value)


def test_catalog_reasons_match_rdkit_on_nci(nci_molecules: list[tuple[str, Chem.Mol]]) -> None:
    params = FilterCatalogParams()
    params.AddCatalog(FilterCatalogParams.FilterCatalogs.PAINS_A)
    catalog = FilterCatalog(params)
    pains_a = FilterSet(["pains_a"])
    flagged = 0
    for nci_id, mol in nci_molecules[:1500]:
        expected = sorted({f"pains_a: {entry.GetDescription()}" for entry in catalog.GetMatches(mol)})
        assert pains_a.check(mol, properties(mol)) == expected, nci_id
        flagged += bool(expected)
    assert flagged > 50  # quinones and catechols are common in the NCI set
