"""The composite score and the filter modes on real molecules, and the worker-side parameter checks."""

from __future__ import annotations

import pytest

from core.errors import InvalidParameters
from workers.plugin import Item
from workers.screening.checks import admet_columns, check_params
from workers.screening.params import ScreeningParams
from workers.screening.pipeline import ScreeningPipeline
from workers.screening.scoring import composite_score

GEFITINIB = "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"
AG1478 = "COc1cc2ncnc(Nc3cccc(Cl)c3)c2cc1OC"
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"  # ene_rhod_A (PAINS A), Michael acceptor and thiocarbonyl (Brenk)
BASE = {"admet": False}


@pytest.fixture(scope="module")
def pipeline() -> ScreeningPipeline:
    return ScreeningPipeline()


def _run(pipeline: ScreeningPipeline, smiles: list[str], params: dict) -> tuple[dict[int, dict], dict[int, tuple]]:
    outcome = pipeline.run(
        [Item(i, f"m{i}", {"smiles": s}) for i, s in enumerate(smiles)], ScreeningParams.model_validate(params)
    )
    return {r["item_index"]: r for r in outcome.results}, {e.index: (e.code, e.message) for e in outcome.errors}


def test_similarity_first_then_qed_bonus_minus_alert_penalties(pipeline: ScreeningPipeline) -> None:
    params = {**BASE, "similarity": {"references": [{"smiles": GEFITINIB, "id": "gef"}]}}
    rows, errors = _run(pipeline, [CAFFEINE, AG1478, GEFITINIB, RHODANINE], params)
    assert not errors
    p = ScreeningParams.model_validate(params)
    for row in rows.values():
        expected = row["similarity"] + 0.2 * row["qed"] - 0.1 * min(row["alert_count"], 5)
        assert row["score"] == pytest.approx(expected, abs=1e-12)
        assert row["score"] == composite_score(row, p)
    ranked = sorted(rows, key=lambda i: -rows[i]["score"])
    assert ranked[:2] == [2, 1]  # the reference itself, then its closest analog
    assert rows[2]["similarity"] == 1.0 and rows[2]["nearest_reference"] == "gef"


def test_qed_primary_when_nothing_else_is_given(pipeline: ScreeningPipeline) -> None:
    rows, _ = _run(pipeline, [CAFFEINE, RHODANINE], BASE)
    for row in rows.values():
        assert row["score"] == pytest.approx(row["qed"] - 0.1 * row["alert_count"], abs=1e-12)
    assert rows[1]["alert_count"] >= 2 and rows[0]["alert_count"] == 0


def test_drop_mode_records_filtered_compounds_as_item_errors(pipeline: ScreeningPipeline) -> None:
    params = {**BASE, "filters": {"families": ["pains_a", "brenk"], "mode": "drop"}}
    rows, errors = _run(pipeline, [CAFFEINE, RHODANINE], params)
    assert set(rows) == {0}
    code, message = errors[1]
    assert code == "FILTERED" and "pains_a: ene_rhod_A" in message and "brenk:" in message


def test_flag_mode_keeps_them_with_reasons(pipeline: ScreeningPipeline) -> None:
    params = {**BASE, "filters": {"families": ["pains_a"], "exclude_smarts": ["C(=S)"], "ranges": {"mw": {"max": 200}}}}
    rows, errors = _run(pipeline, [CAFFEINE, RHODANINE], params)
    assert not errors
    assert rows[0]["passes_filters"] is True and rows[0]["alerts"] is None
    reasons = rows[1]["alerts"].split("; ")
    assert rows[1]["passes_filters"] is False and rows[1]["alert_count"] == len(reasons) == 3
    assert any(r.startswith("pains_a:") for r in reasons) and any(r.startswith("exclude_smarts:") for r in reasons)
    assert any(r.startswith("range mw:") for r in reasons)


def test_admet_penalties_and_missing_values() -> None:
    p = ScreeningParams.model_validate({"ranking": {"admet_penalties": {"hERG": 0.5, "AMES": 0.25}}})
    row = {"qed": 0.6, "alert_count": 1, "admet": {"hERG": 0.8, "AMES": None, "DILI": 0.9}}
    assert composite_score(row, p) == pytest.approx(0.6 - 0.1 - 0.5 * 0.8)
    assert composite_score({**row, "admet": None}, p) == pytest.approx(0.5)


def test_activity_primary_respects_direction() -> None:
    p = ScreeningParams.model_validate({"activity": {"model": "m", "higher_is_better": False}, "admet": False})
    low, high = {"activity": 5.0, "qed": 0.5}, {"activity": 8.0, "qed": 0.5}
    assert composite_score(low, p) > composite_score(high, p)
    with pytest.raises(ValueError, match="no activity model"):
        ScreeningParams.model_validate({"ranking": {"primary": "activity"}})


def test_parameter_checks_name_the_culprit() -> None:
    with pytest.raises(InvalidParameters, match=r"\[C;X5"):
        check_params(ScreeningParams.model_validate({"filters": {"include_smarts": ["[C;X5"]}}))
    with pytest.raises(InvalidParameters, match=r"similarity\.references"):
        check_params(ScreeningParams.model_validate({"similarity": {"references": [{"smiles": "C1CC", "id": "r"}]}}))
    with pytest.raises(InvalidParameters, match="'hERG_typo'"):
        check_params(ScreeningParams.model_validate({"ranking": {"admet_penalties": {"hERG_typo": 1}}}))
    check_params(ScreeningParams())  # the defaults are valid
    assert {"hERG", "AMES", "DILI", "ClinTox", "molecular_weight", "QED"} <= set(admet_columns())


def test_standardize_error_is_an_item_error_and_the_batch_goes_on(pipeline: ScreeningPipeline) -> None:
    rows, errors = _run(pipeline, ["[H][H]", CAFFEINE], BASE)
    assert set(rows) == {1}
    code, message = errors[0]
    assert code == "STANDARDIZE_ERROR" and "no heavy atoms" in message
    # With standardization off a salt is kept as written.
    rows, errors = _run(pipeline, ["CC(=O)[O-].[Na+]"], {**BASE, "standardize": {"enabled": False}})
    assert rows[0]["canonical_smiles"] == "CC(=O)[O-].[Na+]" and rows[0]["standardization"] is None


def test_filter_properties_reuse_the_row_descriptors_exactly(pipeline: ScreeningPipeline, nci_dir) -> None:  # type: ignore[no-untyped-def]
    from rdkit import Chem

    from workers.screening.chem.filters import properties

    smiles = [line.split("\t")[0] for line in (nci_dir / "first_5K.smi").read_text().splitlines()[::25]]
    rows, _ = _run(pipeline, smiles, {**BASE, "standardize": {"enabled": False}})
    assert len(rows) > 150
    for row in rows.values():
        mol = Chem.MolFromSmiles(row["canonical_smiles"])
        # Re-parsing the canonical SMILES reorders atoms, so sums may differ in the last bit.
        assert properties(mol, row) == pytest.approx(properties(mol), abs=1e-9), row["canonical_smiles"]
