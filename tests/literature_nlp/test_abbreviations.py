from __future__ import annotations

import pytest

from workers.literature.abbreviations import best_long_form, expand, find_abbreviations
from workers.literature.normalize import Lexicon
from workers.literature.pubtator import GoldDoc, Mention


def pairs(text: str) -> list[tuple[str, str]]:
    return [(a.short(text), a.long(text)) for a in find_abbreviations(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Magnetic resonance imaging (MRI) was used.", [("MRI", "Magnetic resonance imaging")]),
        ("We used MRI (magnetic resonance imaging) in all patients.", [("MRI", "magnetic resonance imaging")]),
        ("Rats received 5-fluorouracil (5-FU) daily.", [("5-FU", "5-fluorouracil")]),
        ("levels of heat shock protein (HSP) rose", [("HSP", "heat shock protein")]),
        # The shortest long form that matches: "the" is not part of it.
        ("in the neuroleptic malignant syndrome (NMS) group", [("NMS", "neuroleptic malignant syndrome")]),
        # Cut at "; " and ", " inside the parenthesis.
        ("Blood pressure (BP; n = 12) fell.", [("BP", "Blood pressure")]),
        # A nested parenthesis is dropped from the short form.
        ("tumor necrosis factor (TNF (Sigma)) was added", [("TNF", "tumor necrosis factor")]),
        # A definition inside a parenthetical remark: the window stops at the open parenthesis.
        ("rats (given puromycin aminonucleoside (PAN)) lost weight", [("PAN", "puromycin aminonucleoside")]),
        # No definition: letters that do not match, a p-value, a one-letter short form, no letter at all.
        ("the drug (XYZ) was given", []),
        ("heart rate (p < 0.05) fell", []),
        ("in the (a) test", []),
        ("doses (10 mg) were given", []),
        # The first short-form letter must start a word: "ACE" is not in "surface" + "Edema".
        ("surface edema (ACE) appeared", []),
        # Short form longer than 10 characters.
        ("a very long compound name here (ABCDEFGHIJKL) was", []),
    ],
)
def test_schwartz_hearst(text: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(text) == expected


def test_offsets_point_into_the_text() -> None:
    text = "Title. Cyclophosphamide (CPA) causes hemorrhagic cystitis (HC)."
    got = find_abbreviations(text)
    assert [(text[a.short_start : a.short_end], text[a.long_start : a.long_end]) for a in got] == [
        ("CPA", "Cyclophosphamide"),
        ("HC", "hemorrhagic cystitis"),
    ]


def test_best_long_form_matches_right_to_left() -> None:
    long = "in the heat shock protein"
    assert long[best_long_form("HSP", long) :] == "heat shock protein"
    assert best_long_form("XQ", long) is None


def test_expand_short_form_takes_long_form_concept() -> None:
    text = "Puromycin aminonucleoside (PAN) causes nephrosis. PAN was given daily."
    lf = Mention(0, 25, "Puromycin aminonucleoside", "Chemical", concept_id="MESH:D011692", concept_name="PA")
    sf1 = Mention(27, 30, "PAN", "Chemical")
    sf2 = Mention(text.rindex("PAN"), text.rindex("PAN") + 3, "PAN", "Chemical", concept_id="MESH:WRONG")
    out = expand([lf, sf1, sf2], text)
    assert [m.concept_id for m in out] == ["MESH:D011692"] * 3
    assert [m.match for m in out[1:]] == ["abbreviation", "abbreviation"]


def test_expand_long_form_learns_from_short_form_and_lookup() -> None:
    text = "Hemorrhagic cystitis (HC) was seen. HC resolved."
    lf = Mention(0, 20, "Hemorrhagic cystitis", "Disease")
    sf = Mention(text.rindex("HC"), text.rindex("HC") + 2, "HC", "Disease")

    def lookup(name: str, kind: str) -> tuple[str, str | None] | None:
        return ("MESH:D003556", "Cystitis") if name.lower() == "hemorrhagic cystitis" and kind == "Disease" else None

    out = expand([lf, sf], text, lookup)
    assert [m.concept_id for m in out] == ["MESH:D003556", "MESH:D003556"]
    # Gene mentions are never normalized.
    gene = Mention(sf.start, sf.end, "HC", "Gene")
    assert expand([gene], text, lookup)[0].concept_id is None


def test_expansion_in_a_real_abstract(dev_by_pmid: dict[str, GoldDoc], train_only_lexicon: Lexicon) -> None:
    from dataclasses import replace

    g = dev_by_pmid[ABSTRACT_PMID]
    text = g.document.text
    sf = [m for m in g.mentions if m.text == ABSTRACT_SF]
    assert sf, "the abstract mentions the short form"
    lexicon = train_only_lexicon  # the shipped build knows "LTG" from this very abstract's annotations
    assert lexicon.lookup(ABSTRACT_SF, sf[0].type) is None  # only the in-document definition can resolve it
    out = lexicon.normalize(text, [replace(m, concept_id=None) for m in g.mentions])
    got = [m for m in out if m.text == ABSTRACT_SF]
    assert got and all(m.concept_id == sf[0].concept_id == "MESH:C047781" for m in got)
    assert {m.match for m in got} == {"abbreviation"}


# Lamotrigine (LTG): a training-only lexicon does not know "LTG"; the abstract defines it.
ABSTRACT_PMID = "16157917"
ABSTRACT_SF = "LTG"
