"""The screening plug-in through the registry: shape, columns, and that the light side never loads RDKit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from db.models.screening import ScreeningResult
from tests.screening.conftest import WriteFile
from tests.screening.helpers import ASPIRIN
from workers.domains import get_plugin
from workers.screening.params import ScreeningParams

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_registry_returns_the_screening_plugin() -> None:
    plugin = get_plugin("screening")
    assert plugin.name == "screening" and plugin.params_model is ScreeningParams
    assert plugin.result_model is ScreeningResult
    assert plugin.default_sort == "-score"


def test_columns_exist_on_the_result_table() -> None:
    plugin = get_plugin("screening")
    table = [c.name for c in ScreeningResult.__table__.columns]
    assert plugin.export_columns[0] == "item_index"
    assert set(plugin.export_columns) == set(table) - {"id", "job_id", "shard_id"}
    assert set(plugin.sort_columns) <= set(table) and set(plugin.filter_columns) <= set(table)
    assert set(plugin.sort_columns) <= set(plugin.filter_columns)
    assert plugin.default_sort.lstrip("-") in plugin.sort_columns


def test_params_reject_unknown_keys_and_values() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        ScreeningParams.model_validate({"smiles_col": "x"})
    with pytest.raises(pydantic.ValidationError):
        ScreeningParams.model_validate({"input_format": "xlsx"})
    with pytest.raises(pydantic.ValidationError):
        ScreeningParams.model_validate({"rank_by": "mw"})


def test_light_modules_do_not_import_rdkit() -> None:
    code = (
        "import sys, workers.screening, workers.screening.plugin, workers.screening.parsers, "
        "workers.screening.params, workers.domains\n"
        "workers.domains.get_plugin('screening')\n"
        "assert 'rdkit' not in sys.modules, 'rdkit was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


def test_plugin_end_to_end_without_a_database(write_file: WriteFile) -> None:
    plugin = get_plugin("screening")
    path = write_file("lib.csv.gz", f"smiles,id\n{ASPIRIN},aspirin\nC1CC,broken\n", gz=True)
    params = ScreeningParams()
    fmt = plugin.detect_format("lib.csv.gz", path.read_bytes()[:8192], params)
    items = list(plugin.iter_items(path, fmt, params))
    outcome = plugin.load_pipeline("cpu").run(items, params)
    assert [r["item_key"] for r in outcome.results] == ["aspirin"]
    assert [(e.key, e.code) for e in outcome.errors] == [("broken", "PARSE_ERROR")]
    assert outcome.errors[0].message == "SMILES Parse Error: unclosed ring for input: 'C1CC'"
