"""The RDKit pipeline on real molecules: literature values, independent reference data, per-item errors."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pytest
import rdkit
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

import workers.screening.pipeline as pipeline_module
from db.models.screening import ScreeningResult
from tests.screening.conftest import WriteFile
from tests.screening.helpers import ASPIRIN, CAFFEINE, DRUGS, IBUPROFEN, parse
from workers.plugin import BatchOutcome, Item
from workers.screening.params import ScreeningParams
from workers.screening.pipeline import ScreeningPipeline

# The descriptor stage alone: no standardization (so SMILES compare with RDKit's own parse), no ADMET model,
# no ranking penalties (so the score is QED). The other stages have their own tests.
PARAMS = ScreeningParams.model_validate(
    {"standardize": {"enabled": False}, "admet": False, "ranking": {"alert_penalty": 0, "admet_penalties": {}}}
)


@pytest.fixture(scope="module")
def pipeline() -> ScreeningPipeline:
    return ScreeningPipeline()


def run_smiles(pipeline: ScreeningPipeline, smiles: list[str]) -> BatchOutcome:
    return pipeline.run([Item(i, f"m{i}", {"smiles": s}) for i, s in enumerate(smiles)], PARAMS)


def by_index(outcome: BatchOutcome) -> dict[int, dict]:
    return {r["item_index"]: r for r in outcome.results}


def test_literature_values_for_three_drugs(pipeline: ScreeningPipeline) -> None:
    rows = by_index(run_smiles(pipeline, [ASPIRIN, CAFFEINE, IBUPROFEN]))
    aspirin, caffeine, ibuprofen = rows[0], rows[1], rows[2]
    # Molecular weights from the formulas C9H8O4, C8H10N4O2, C13H18O2 (IUPAC atomic weights; PubChem).
    assert aspirin["mw"] == pytest.approx(180.16, abs=0.005)
    assert caffeine["mw"] == pytest.approx(194.19, abs=0.005)
    assert ibuprofen["mw"] == pytest.approx(206.28, abs=0.01)
    # Ertl TPSA (J. Med. Chem. 2000), as listed by PubChem for aspirin and ibuprofen.
    assert aspirin["tpsa"] == pytest.approx(63.6, abs=0.05)
    assert ibuprofen["tpsa"] == pytest.approx(37.3, abs=0.05)
    # Donor counts and rotatable bonds agree across definitions for these three (PubChem).
    assert (aspirin["hbd"], caffeine["hbd"], ibuprofen["hbd"]) == (1, 0, 1)
    assert (caffeine["rotatable_bonds"], ibuprofen["rotatable_bonds"]) == (0, 4)
    assert all(r["lipinski_violations"] == 0 for r in (aspirin, caffeine, ibuprofen))
    assert aspirin["canonical_smiles"] == "CC(=O)Oc1ccccc1C(=O)O"
    assert aspirin["input_smiles"] == ASPIRIN and aspirin["item_key"] == "m0"


def test_qed_matches_the_values_published_with_qed(pipeline: ScreeningPipeline) -> None:
    # Bickerton et al., Nat. Chem. 2012; reference values from the original implementation (RDKit's QED docs).
    published = {
        "N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O": 0.253,  # famotidine
        "CNC(=NCCSCc1nc[nH]c1C)NC#N": 0.234,  # cimetidine
        "CCCCCNC(=N)NN=Cc1c[nH]c2ccc(CO)cc12": 0.234,  # tegaserod
    }
    rows = by_index(run_smiles(pipeline, list(published)))
    for i, expected in enumerate(published.values()):
        assert rows[i]["qed"] == pytest.approx(expected, abs=0.0015)
        assert rows[i]["score"] == rows[i]["qed"]


def test_ranking_by_qed(pipeline: ScreeningPipeline) -> None:
    names = [*DRUGS, "famotidine"]
    smiles = [*DRUGS.values(), "N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O"]
    outcome = run_smiles(pipeline, smiles)
    ranked = [names[r["item_index"]] for r in sorted(outcome.results, key=lambda r: -r["score"])]
    # QED: ibuprofen ~0.82 (an "ideal" oral drug), aspirin and caffeine ~0.55, famotidine 0.25 (published).
    assert ranked[0] == "ibuprofen" and ranked[-1] == "famotidine"
    reference = sorted(names, key=lambda n: -QED.qed(Chem.MolFromSmiles(smiles[names.index(n)])))
    assert ranked == reference


def test_against_independent_nci_reference_values(pipeline: ScreeningPipeline, nci_dir: Path) -> None:
    """200 NCI molecules with properties computed elsewhere (SDF data fields) and Ertl's own tpsa.c output."""
    items = parse(nci_dir / "first_200.props.sdf")
    outcome = pipeline.run(items, PARAMS)
    assert not outcome.errors and len(outcome.results) == 200
    rows = by_index(outcome)
    for item in items:
        row, props = rows[item.index], item.payload["props"]
        assert row["mw"] == pytest.approx(float(props["AMW"]), abs=0.01)
        assert (row["hbd"], row["hba"]) == (int(props["NUM_HDONORS"]), int(props["NUM_HACCEPTORS"]))
        assert row["rotatable_bonds"] == int(props["NUM_ROTATABLEBONDS"])
        assert row["input_smiles"] is None and row["item_key"] is None
    with open(nci_dir / "first_200.tpsa.csv") as fh:
        reference = [(s, float(v)) for s, v in csv.reader(line for line in fh if not line.startswith("#"))]
    rows = by_index(run_smiles(pipeline, [s for s, _ in reference]))
    assert [rows[i]["tpsa"] for i in range(len(reference))] == pytest.approx([v for _, v in reference], abs=0.01)


def test_fast_path_equals_rdkit_reference_functions(pipeline: ScreeningPipeline, nci_dir: Path) -> None:
    """The pipeline reuses QED's property vector and a FilterCatalog for its alerts; check it changes nothing."""
    lines = (nci_dir / "first_5K.smi").read_text().splitlines()[::12]
    smiles = [line.split("\t")[0] for line in lines] + ["[H]OC([H])([H])C", "[2H]C([2H])([2H])Cl", "[Na+].[Cl-]"]
    rows = by_index(run_smiles(pipeline, smiles))
    checked = 0
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            assert i not in rows
            continue
        # RDKit's stubs miss the lambda-defined descriptor functions, hence the ignores.
        expected = (
            Chem.MolToSmiles(mol),
            Descriptors.MolWt(mol),  # type: ignore[attr-defined]
            Crippen.MolLogP(mol),  # type: ignore[attr-defined]
            Lipinski.NumHDonors(mol),  # type: ignore[attr-defined]
            Lipinski.NumHAcceptors(mol),  # type: ignore[attr-defined]
            rdMolDescriptors.CalcTPSA(mol),
            rdMolDescriptors.CalcNumRotatableBonds(mol),
            QED.qed(mol),
        )
        row = rows[i]
        keys = ("canonical_smiles", "mw", "clogp", "hbd", "hba", "tpsa", "rotatable_bonds", "qed")
        assert tuple(row[k] for k in keys) == expected, s
        checked += 1
    assert checked > 400


def test_result_rows_have_exactly_the_table_columns(pipeline: ScreeningPipeline) -> None:
    outcome = run_smiles(pipeline, [ASPIRIN])
    # duplicate_of / same_structure_as are set at job end (workers/screening/finalize.py).
    table = {c.name for c in ScreeningResult.__table__.columns} - {
        "id",
        "job_id",
        "shard_id",
        "duplicate_of",
        "same_structure_as",
    }
    assert set(outcome.results[0]) == table
    row = outcome.results[0]
    assert isinstance(row["hbd"], int) and isinstance(row["lipinski_violations"], int)


def test_lipinski_violations_count_each_rule(pipeline: ScreeningPipeline) -> None:
    # Cyclosporin A: MW 1202.6, 5 donors, 12 acceptors (RDKit), cLogP 3.3 -> violates MW and HBA.
    cyclosporin = (
        "CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)N([C@H](C(=O)N"
        "([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)C(C)C)C)CC(C)C)C)CC(C)C)C)C)C)CC(C)C)"
        "C)C(C)C)CC(C)C)C)C"
    )
    row = run_smiles(pipeline, [cyclosporin]).results[0]
    expected = (row["mw"] > 500) + (row["clogp"] > 5) + (row["hbd"] > 5) + (row["hba"] > 10)
    assert row["mw"] == pytest.approx(1202.6, abs=0.1)
    assert row["lipinski_violations"] == expected == 2


def test_per_item_error_codes(pipeline: ScreeningPipeline, write_file: WriteFile) -> None:
    empty_molblock = Chem.MolToMolBlock(Chem.Mol())
    items = [
        Item(0, "ok", {"smiles": ASPIRIN}),
        Item(1, "syntax", {"smiles": "C1CC(=O"}),
        Item(2, "valence", {"smiles": "CN(C)(C)C"}),
        Item(3, "kekule", {"smiles": "c1cccc1"}),
        Item(4, "no-atoms", {"molblock": empty_molblock, "props": {}}),
        Item(5, "no-atoms-smiles", {"smiles": ""}),
        Item(6, "not-a-string", {"smiles": 42}),
        Item(7, "nothing", {}),
        Item(8, "from-parser", {}, ("ENCODING_ERROR", "record is not valid UTF-8")),
        Item(9, "ok2", {"smiles": CAFFEINE}),
    ]
    outcome = pipeline.run(items, PARAMS)
    assert [r["item_key"] for r in outcome.results] == ["ok", "ok2"]
    errors = {e.key: (e.code, e.message) for e in outcome.errors}
    assert errors["syntax"] == (
        "PARSE_ERROR",
        "SMILES Parse Error: extra open parentheses while parsing: C1CC(=O; check for mistakes around position 5",
    )
    assert errors["valence"] == ("SANITIZE_ERROR", "Explicit valence for atom # 1 N, 4, is greater than permitted")
    assert errors["kekule"][0] == "SANITIZE_ERROR" and "kekulize" in errors["kekule"][1]
    assert errors["no-atoms"][0] == errors["no-atoms-smiles"][0] == "EMPTY_RECORD"
    assert errors["not-a-string"][0] == errors["nothing"][0] == "PROCESSING_ERROR"
    assert errors["from-parser"] == ("ENCODING_ERROR", "record is not valid UTF-8")
    assert [e.index for e in outcome.errors] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_truncated_sdf_record_is_a_parse_error(pipeline: ScreeningPipeline, write_file: WriteFile) -> None:
    whole = Chem.MolToMolBlock(Chem.MolFromSmiles(CAFFEINE))
    truncated = "\n".join(whole.splitlines()[:10]) + "\n"
    items = parse(write_file("t.sdf", whole + "$$$$\n" + truncated))
    outcome = pipeline.run(items, PARAMS)
    assert len(outcome.results) == 1
    assert outcome.errors[0].code == "PARSE_ERROR" and "no 'M  END' line" in outcome.errors[0].message


def test_real_invalid_molecules_in_the_nci_set(pipeline: ScreeningPipeline, nci_dir: Path) -> None:
    """A handful of NCI records carry hypervalent atoms RDKit rejects; each becomes a SANITIZE_ERROR."""
    items = parse(nci_dir / "first_5K.smi")
    bad = [item for item in items if Chem.MolFromSmiles(item.payload["smiles"]) is None]
    assert bad, "the NCI sample is known to contain a few invalid valences"
    outcome = pipeline.run(bad, PARAMS)
    assert not outcome.results
    assert all(e.code == "SANITIZE_ERROR" for e in outcome.errors)
    assert all(
        re.fullmatch(r"Explicit valence for atom # \d+ \w+, \d+, is greater than permitted", e.message)
        for e in outcome.errors
    )


def test_long_bad_smiles_message_is_bounded(pipeline: ScreeningPipeline) -> None:
    smiles = "C" * 5000 + "("
    error = run_smiles(pipeline, [smiles]).errors[0]
    assert error.code == "PARSE_ERROR" and len(error.message) <= 310 and "C" * 100 not in error.message


def test_provenance_of_the_outcome(pipeline: ScreeningPipeline) -> None:
    outcome = run_smiles(pipeline, [ASPIRIN])
    assert outcome.model.name == "rdkit-descriptors" and outcome.model.version == rdkit.__version__
    here = Path(pipeline_module.__file__).parent
    sources = b"".join((here / name).read_bytes() for name in pipeline_module._SOURCES)
    assert outcome.model.sha256 == hashlib.sha256(sources).hexdigest()
    assert set(outcome.packages) == {"rdkit", "numpy", "python"} and outcome.device == "cpu"
    assert outcome.timings["compute_s"] > 0


def test_example_library_runs_with_its_three_documented_errors(pipeline: ScreeningPipeline) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "library.smi"
    items = parse(path)
    assert 200 <= len(items) <= 500 and path.stat().st_size < 60_000
    outcome = pipeline.run(items, PARAMS)
    assert len(outcome.results) + len(outcome.errors) == len(items)
    assert sorted((e.key, e.code) for e in outcome.errors) == [
        ("bad-aromaticity", "SANITIZE_ERROR"),
        ("bad-unclosed-branch", "PARSE_ERROR"),
        ("bad-valence", "SANITIZE_ERROR"),
    ]
