"""Every input format, plain and gzip, read through format detection and the streaming parsers."""

from __future__ import annotations

import json

import pytest
from rdkit import Chem

from tests.screening.conftest import WriteFile
from tests.screening.helpers import DRUGS, codes, ok, parse

EXPECTED = [(name, smiles) for name, smiles in DRUGS.items()]


def _sdf(records: list[tuple[str, str, dict[str, str]]]) -> str:
    out = []
    for title, smiles, props in records:
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("_Name", title)
        block = Chem.MolToMolBlock(mol)
        data = "".join(f">  <{k}>\n{v}\n\n" for k, v in props.items())
        out.append(block + data + "$$$$\n")
    return "".join(out)


CONTENT = {
    "library.smi": "".join(f"{s}\t{n}\n" for n, s in DRUGS.items()),
    "library.csv": "name,smiles,mw\n" + "".join(f"{n},{s},1.0\n" for n, s in DRUGS.items()),
    "library.tsv": "ID\tSMILES\n" + "".join(f"{n}\t{s}\n" for n, s in DRUGS.items()),
    "library.jsonl": "".join(json.dumps({"smiles": s, "id": n}) + "\n" for n, s in DRUGS.items()),
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", sorted(CONTENT))
def test_text_formats_plain_and_gzip(write_file: WriteFile, name: str, gz: bool) -> None:
    path = write_file(name + (".gz" if gz else ""), CONTENT[name], gz=gz)
    items = parse(path)
    assert ok(items) == EXPECTED
    assert [i.index for i in items] == [0, 1, 2]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_sdf_plain_and_gzip(write_file: WriteFile, gz: bool) -> None:
    text = _sdf([(n, s, {"ORIGIN": "test", "NOTE": f"line one\nline two of {n}"}) for n, s in DRUGS.items()])
    items = parse(write_file("library.sdf" + (".gz" if gz else ""), text, gz=gz))
    assert [i.key for i in items] == list(DRUGS)
    assert items[2].payload["props"] == {"ORIGIN": "test", "NOTE": "line one\nline two of ibuprofen"}
    # The molblock alone, without data items, round-trips to the same molecule.
    for item, smiles in zip(items, DRUGS.values(), strict=True):
        assert "ORIGIN" not in item.payload["molblock"]
        parsed = Chem.MolFromMolBlock(item.payload["molblock"])
        assert Chem.MolToSmiles(parsed) == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_sdf_id_column_names_a_data_field(write_file: WriteFile) -> None:
    text = _sdf([(f"title-{n}", s, {"CATALOG_ID": f"CAT-{i}"}) for i, (n, s) in enumerate(DRUGS.items())])
    items = parse(write_file("lib.sdf", text), id_column="CATALOG_ID")
    assert [i.key for i in items] == ["CAT-0", "CAT-1", "CAT-2"]


def test_real_nci_sdf_keeps_all_records_and_props(nci_dir) -> None:
    items = parse(nci_dir / "first_200.props.sdf")
    assert len(items) == 200 and all(i.error is None for i in items)
    assert all(i.key is None for i in items)  # the file's title lines are blank
    first = items[0].payload["props"]
    assert first["SMILES"] == "CC1=CC(=O)C=CC1=O" and first["AMW"] == "122.12344"
    assert all(i.payload["molblock"].rstrip().endswith("M  END") for i in items)


def test_sdf_last_record_without_delimiter_is_kept_and_truncated_one_is_yielded(write_file: WriteFile) -> None:
    complete = _sdf([("aspirin", DRUGS["aspirin"], {})])
    whole = _sdf([("caffeine", DRUGS["caffeine"], {})]).removesuffix("$$$$\n")
    truncated = "\n".join(whole.splitlines()[:9]) + "\n"  # cut inside the atom block, no M  END, no $$$$
    items = parse(write_file("a.sdf", complete + whole + "$$$$\n" + truncated))
    assert [i.key for i in items] == ["aspirin", "caffeine", "caffeine"]
    assert "M  END" not in items[2].payload["molblock"] and items[2].error is None  # the pipeline judges it
    items = parse(write_file("b.sdf", complete + whole))
    assert [i.key for i in items] == ["aspirin", "caffeine"] and "M  END" in items[1].payload["molblock"]


def test_sdf_blank_space_between_and_after_records_is_not_an_item(write_file: WriteFile) -> None:
    text = _sdf([("aspirin", DRUGS["aspirin"], {})]) + "\n\n$$$$\n" + _sdf([("x", DRUGS["caffeine"], {})]) + "\n\n"
    assert [i.key for i in parse(write_file("c.sdf", text))] == ["aspirin", "x"]


def test_smi_header_comments_and_blank_lines(write_file: WriteFile) -> None:
    text = "# a comment\n\nsmiles name\nCCO ethanol\n# another\n\nc1ccccc1 benzene\n"
    items = parse(write_file("h.smi", text))
    assert ok(items) == [("ethanol", "CCO"), ("benzene", "c1ccccc1")]
    assert [i.index for i in items] == [0, 1]
    text = "SMILES\tID\nCCO\tethanol\n"
    assert ok(parse(write_file("h2.smi", text))) == [("ethanol", "CCO")]


def test_smi_names_and_header_columns(write_file: WriteFile) -> None:
    text = "CCO\tethyl alcohol\nC  methane  16.04\nCCC\n"  # tab keeps spaces in names; a bare SMILES has no key
    assert ok(parse(write_file("n.smi", text))) == [("ethyl alcohol", "CCO"), ("methane", "C"), (None, "CCC")]
    text = "name\tsmiles\tcatalog\nethanol\tCCO\tC-1\n"
    assert ok(parse(write_file("cols.smi", text), fmt="smi")) == [("ethanol", "CCO")]
    text = "smiles\tname\tcatalog\nCCO\tethanol\tC-1\n"
    assert ok(parse(write_file("cols2.smi", text), id_column="catalog")) == [("C-1", "CCO")]


def test_csv_column_selection(write_file: WriteFile) -> None:
    text = 'Compound_ID,Canonical_SMILES,structure,note\nA1,CCO,C,"multi\nline note"\nA2,CCN,N,x\n'
    path = write_file("sel.csv", text)
    assert ok(parse(path)) == [("A1", "CCO"), ("A2", "CCN")]  # case-insensitive auto-detection
    assert ok(parse(path, smiles_column="structure", id_column="note")) == [("multi\nline note", "C"), ("x", "N")]
    assert ok(parse(path, smiles_column="STRUCTURE")) == [("A1", "C"), ("A2", "N")]


def test_csv_without_smiles_column_names_the_columns(write_file: WriteFile) -> None:
    from core.errors import InvalidInput

    path = write_file("none.csv", "id,structure\n1,CCO\n")
    with pytest.raises(InvalidInput, match=r"no SMILES column.*'id', 'structure'"):
        parse(path)
    with pytest.raises(InvalidInput, match=r"no SMILES column 'smi_code'"):
        parse(path, smiles_column="smi_code")
    with pytest.raises(InvalidInput, match=r"no ID column 'cas'"):
        parse(path, smiles_column="structure", id_column="cas")


def test_csv_row_errors(write_file: WriteFile) -> None:
    text = "id,note,smiles\n1,a,CCO\n2,b\n3,c,\n\n4,d, CCN \n"
    items = parse(write_file("rows.csv", text))
    assert codes(items) == [None, "MISSING_FIELD", "EMPTY_RECORD", None]
    assert "'smiles' is field 3" in items[1].error[1]  # type: ignore[index]
    # The other columns ride along as properties (for the exports).
    assert items[2].key == "3" and items[3].payload == {"smiles": "CCN", "props": {"note": "d"}}


def test_jsonl_strings_objects_and_bad_lines(write_file: WriteFile) -> None:
    lines = ['"CCO"', '{"SMILES": "CCN", "name": "ethylamine"}', "{not json", '{"id": 7}', "42", '{"smiles": "  "}']
    items = parse(write_file("mixed.jsonl", "\n".join(lines) + "\n\n"))
    assert codes(items) == [None, None, "PARSE_ERROR", "MISSING_FIELD", "PARSE_ERROR", "EMPTY_RECORD"]
    assert ok(items) == [(None, "CCO"), ("ethylamine", "CCN")]
    assert items[3].key == "7"
    items = parse(write_file("custom.jsonl", '{"mol": "CCO", "cid": 702}\n'), smiles_column="mol", id_column="cid")
    assert ok(items) == [("702", "CCO")]


def test_gzip_is_detected_by_content_not_name(write_file: WriteFile) -> None:
    smi = "CCO ethanol\n"
    assert ok(parse(write_file("hidden.smi", smi, gz=True))) == [("ethanol", "CCO")]
    assert ok(parse(write_file("not-really.smi.gz", smi))) == [("ethanol", "CCO")]


def test_reparse_gives_identical_items(write_file: WriteFile) -> None:
    path = write_file("again.smi", "# c\nCCO a\n\nbad\xffline\nCCN b\n".encode("latin-1"))
    assert parse(path) == parse(path)
    assert [i.index for i in parse(path)] == [0, 1, 2]


def test_long_keys_are_cut_to_the_column_width(write_file: WriteFile) -> None:
    items = parse(write_file("k.smi", "CCO\t" + "k" * 1000 + "\n"))
    assert items[0].key == "k" * 255


def test_empty_input_yields_nothing(write_file: WriteFile) -> None:
    for name in ("e.smi", "e.csv", "e.sdf", "e.jsonl"):
        assert parse(write_file(name, "")) == []
    assert parse(write_file("c.smi", "# only comments\n\n")) == []
