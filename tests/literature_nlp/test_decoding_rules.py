"""BIO decoding (constrained Viterbi, O weight) and the document-level mention rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workers.literature.decoding import BioDecoder, Decoding, path_spans
from workers.literature.mention_rules import document_mentions, propagate_abbreviations, trim_modifiers
from workers.literature.ner import Span
from workers.literature.normalize import Lexicon
from workers.literature.pubtator import Mention

LABELS = ("O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease", "B-Gene", "I-Gene")


def probs(*rows: dict[str, float]) -> np.ndarray:
    """One row per word; labels not named share what is left."""
    out = np.zeros((len(rows), len(LABELS)), dtype=np.float32)
    for i, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / (len(LABELS) - len(row))
        out[i] = [row.get(label, rest) for label in LABELS]
    return out


def valid(path: list[str]) -> bool:
    previous = "O"
    for tag in path:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def brute_force(p: np.ndarray, o_weight: float = 1.0) -> list[str]:
    """The most probable valid BIO path by enumeration (small inputs only)."""
    w = p.copy()
    w[:, 0] *= o_weight
    best = max(
        (path for path in itertools.product(range(len(LABELS)), repeat=len(p)) if valid([LABELS[k] for k in path])),
        key=lambda path: sum(np.log(w[i, k]) for i, k in enumerate(path)),
    )
    return [LABELS[k] for k in best]


def decode(p: np.ndarray, decoding: Decoding = Decoding()) -> list[str]:
    return [LABELS[k] for k in BioDecoder(LABELS, decoding).paths([p])[0].tolist()]


def test_a_stray_inside_tag_is_resolved_as_a_whole_path() -> None:
    # Argmax reads "O I-Disease I-Disease": invalid. The best valid path makes it one mention, not two.
    p = probs({"O": 0.6, "B-Disease": 0.35}, {"I-Disease": 0.7, "O": 0.2}, {"I-Disease": 0.8})
    assert [LABELS[k] for k in p.argmax(1)] == ["O", "I-Disease", "I-Disease"]
    assert decode(p) == ["B-Disease", "I-Disease", "I-Disease"] == brute_force(p)


def test_a_type_switch_inside_a_mention_is_not_allowed() -> None:
    p = probs({"B-Chemical": 0.9}, {"I-Disease": 0.5, "I-Chemical": 0.4})
    assert decode(p) == ["B-Chemical", "I-Chemical"]


def test_viterbi_matches_brute_force_on_random_sentences() -> None:
    rng = np.random.default_rng(7)
    sentences = [rng.dirichlet(np.full(len(LABELS), 0.3), size=n).astype(np.float32) for n in (1, 2, 3, 4, 5, 1, 4)]
    for o_weight in (1.0, 3.0):
        paths = BioDecoder(LABELS, Decoding(o_weight=o_weight)).paths(sentences)
        assert [[LABELS[k] for k in p.tolist()] for p in paths] == [brute_force(s, o_weight) for s in sentences]


def test_the_o_weight_moves_a_borderline_word_to_o() -> None:
    p = probs({"B-Disease": 0.45, "O": 0.4})
    assert decode(p) == ["B-Disease"]
    assert decode(p, Decoding(o_weight=3.0)) == ["O"]


def test_argmax_decoding_when_viterbi_is_off() -> None:
    p = probs({"O": 0.6}, {"I-Disease": 0.7})
    assert decode(p, Decoding(viterbi=False)) == ["O", "I-Disease"]
    # The span reader opens a mention at a stray I- (only reachable without Viterbi).
    spans = path_spans(LABELS, [(0, 3), (4, 9)], np.array([0, 4]), p)
    assert [(a, b, kind) for a, b, kind, _ in spans] == [(4, 9, "Disease")]


def test_spans_carry_the_mean_probability_of_their_labels() -> None:
    p = probs({"B-Chemical": 0.9}, {"I-Chemical": 0.7}, {"O": 0.9})
    spans = path_spans(LABELS, [(0, 5), (6, 10), (11, 14)], np.array([1, 2, 0]), p)
    assert len(spans) == 1 and spans[0][:3] == (0, 10, "Chemical")
    assert spans[0][3] == pytest.approx(0.8)


def test_decoding_file_of_the_shipped_model() -> None:
    from workers.literature.ner import SHIPPED_MODEL

    d = Decoding.for_model(SHIPPED_MODEL)
    assert d.viterbi and d.o_weight > 1.0


TEXT = (
    "Dopamine (DA) release was measured after haloperidol. DA levels fell, and the DA-induced response and "
    "the traumatic brain injury (TBI) score changed. TBI was rare. Patients had acute bacterial sinusitis."
)


def mention(text: str, needle: str, kind: str, nth: int = 0) -> Mention:
    start = -1
    for _ in range(nth + 1):
        start = text.index(needle, start + 1)
    return Mention(start, start + len(needle), needle, kind, 0.9)


def test_a_defined_short_form_takes_its_long_forms_type_everywhere() -> None:
    tagged = [mention(TEXT, "Dopamine", "Chemical"), mention(TEXT, "haloperidol", "Chemical")]
    out = propagate_abbreviations(TEXT, tagged)
    shorts = sorted((m.start, m.type) for m in out if m.text == "DA")
    # "(DA)", "DA levels" and the "DA" of "DA-induced" (a separate token; no longer mention covers it).
    assert [kind for _, kind in shorts] == ["Chemical"] * 3
    assert {m.text for m in out} == {"Dopamine", "haloperidol", "DA"}


def test_a_short_form_inside_a_longer_mention_is_left_alone() -> None:
    tagged = [mention(TEXT, "Dopamine", "Chemical"), mention(TEXT, "DA-induced response", "Disease")]
    out = propagate_abbreviations(TEXT, tagged)
    assert mention(TEXT, "DA-induced response", "Disease") in out
    assert not any(m.text == "DA" and m.start == TEXT.index("DA-induced") for m in out)


def test_a_short_form_of_no_mention_is_dropped() -> None:
    # The tagger called "TBI" a disease once, but its long form was not tagged: no definition of an entity.
    tagged = [mention(TEXT, "TBI", "Disease", nth=1)]
    assert propagate_abbreviations(TEXT, tagged) == []


def test_a_long_form_mention_must_cover_most_of_the_long_form() -> None:
    tagged = [mention(TEXT, "injury", "Disease")]
    out = propagate_abbreviations(TEXT, tagged)
    assert [m.text for m in out] == ["injury"]


@pytest.fixture(scope="module")
def shipped_lexicon() -> Lexicon:
    return Lexicon.load()


def test_unknown_disease_is_cut_to_the_tail_the_lexicon_knows(shipped_lexicon: Lexicon) -> None:
    long = mention(TEXT, "acute bacterial sinusitis", "Disease")
    (out,) = trim_modifiers(TEXT, [long], shipped_lexicon)
    assert (out.text, out.start, out.end) == ("sinusitis", long.end - len("sinusitis"), long.end)


def test_known_names_and_chemicals_are_not_cut(shipped_lexicon: Lexicon) -> None:
    text = "heart failure after liposomal doxorubicin"
    tagged = [mention(text, "heart failure", "Disease"), mention(text, "liposomal doxorubicin", "Chemical")]
    assert trim_modifiers(text, tagged, shipped_lexicon) == tagged


def test_document_mentions_from_tagger_spans(shipped_lexicon: Lexicon) -> None:
    spans = [Span(0, 8, "Chemical", 0.97), Span(TEXT.index("acute bacterial"), len(TEXT) - 1, "Disease", 0.8)]
    rules_only = Lexicon({**shipped_lexicon.data, "spotting": None})  # spotting has its own tests
    out = document_mentions(TEXT, spans, rules_only)
    assert [(m.text, m.type) for m in out] == [
        ("Dopamine", "Chemical"),
        ("DA", "Chemical"),
        ("DA", "Chemical"),
        ("DA", "Chemical"),
        ("sinusitis", "Disease"),
    ]
    assert [m.start for m in out] == sorted(m.start for m in out)
