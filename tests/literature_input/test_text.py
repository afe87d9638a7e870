"""Sentence splitting and chunking on real BC5CDR abstracts (development set) and on written edge cases."""

from __future__ import annotations

import itertools
import random
import re
import time

import pytest

from workers.literature.text import chunk_spans, split_sentences


def _texts(spans: list[tuple[int, int]], text: str) -> list[str]:
    return [text[a:b] for a, b in spans]


def _assert_partition(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> None:
    """Spans are ordered, trimmed, non-empty, and hold every non-space character of the range exactly once."""
    end = len(text) if end is None else end
    covered = [0] * len(text)
    previous_end = start
    for a, b in spans:
        assert previous_end <= a < b <= end
        assert not text[a].isspace() and not text[b - 1].isspace()
        for i in range(a, b):
            covered[i] += 1
        previous_end = b
    for i in range(start, end):
        assert covered[i] == 1 or (text[i].isspace() and covered[i] == 0), i


def _abstract(bc5cdr: list[dict], pmid: str) -> str:
    return next(d["abstract"] for d in bc5cdr if d["id"] == pmid)


def test_hand_checked_abstracts(bc5cdr: list[dict]) -> None:
    text = _abstract(bc5cdr, "6794356")
    sentences = _texts(split_sentences(text), text)
    assert len(sentences) == 5
    assert sentences[0].startswith("A newborn with massive tricuspid regurgitation")
    assert sentences[2] == "Sixty-three percent of these infants had tricuspid valve involvement."

    # "vs." inside a parenthesis, decimals, "P'", "+/-" everywhere: still seven sentences.
    text = _abstract(bc5cdr, "16820346")
    sentences = _texts(split_sentences(text), text)
    assert len(sentences) == 7
    assert sentences[3].startswith("Atorva reversed dex-induced hypertension (129 +/- 0.6 mmHg, vs. 135")
    assert sentences[-1] == "Thus, atorvastatin prevented and reversed dexamethasone-induced hypertension in the rat."


def test_every_bc5cdr_abstract(bc5cdr: list[dict]) -> None:
    counts = []
    for doc in bc5cdr:
        text = doc["abstract"]
        spans = split_sentences(text)
        _assert_partition(text, spans)
        counts.append(len(spans))
        for i, (a, b) in enumerate(spans):
            # A split right after one of these abbreviations is a bug, unless a section label follows.
            label_next = i + 1 < len(spans) and re.match(r"[A-Z][A-Z ]+:", text[spans[i + 1][0] :])
            if not label_next:
                assert not re.search(r"(\bet al|\be\.g|\bi\.e|\bvs|\bFig|\bapprox)\.$", text[a:b]), text[a:b]
    mean = sum(counts) / len(counts)
    assert 6.5 <= mean <= 10, mean  # BC5CDR abstracts run 8 sentences on average
    assert min(counts) >= 1


def test_title_and_abstract_ranges(bc5cdr: list[dict]) -> None:
    doc = bc5cdr[0]
    text = doc["title"] + " " + doc["abstract"]
    title = split_sentences(text, 0, len(doc["title"]))
    assert title == [(0, len(doc["title"]))]
    abstract = split_sentences(text, len(doc["title"]) + 1, len(text))
    assert abstract[0][0] == len(doc["title"]) + 1
    _assert_partition(text, abstract, len(doc["title"]) + 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Cases were reported by Smith et al. (2003) and by Jones et al. Here we extend them.",
            ["Cases were reported by Smith et al. (2003) and by Jones et al. Here we extend them."],
        ),
        (
            "Drugs (e.g. Aspirin) and others, i.e. NSAIDs, were given. See Fig. 2 and Figs. 3-4. Dr. Who agreed.",
            [
                "Drugs (e.g. Aspirin) and others, i.e. NSAIDs, were given.",
                "See Fig. 2 and Figs. 3-4.",
                "Dr. Who agreed.",
            ],
        ),
        ("Doses were approx. 2.5 mg. Levels rose 3.5-fold. The U.S. Food and Drug Administration agreed.", None),
        (
            "Mice had hepatitis C. The virus was cleared in Group B. BUN rose in 12 rats. mRNA fell.",
            ["Mice had hepatitis C.", "The virus was cleared in Group B.", "BUN rose in 12 rats.", "mRNA fell."],
        ),
        (
            "It was given 5 mg/kg i.v. Somewhat later, 125 mg i.v. MP was given. Was it safe? Yes! It was.",
            [
                "It was given 5 mg/kg i.v.",
                "Somewhat later, 125 mg i.v. MP was given.",
                "Was it safe?",
                "Yes!",
                "It was.",
            ],
        ),
        (
            "Outcomes differed (see Methods. Patients were matched) between arms. Data are in No. 5 of the series.",
            [
                "Outcomes differed (see Methods. Patients were matched) between arms.",
                "Data are in No. 5 of the series.",
            ],
        ),
        (
            'He said "stop." Then it ended. Reported by J. R. Smith. The end (of the study.) Next.',
            ['He said "stop."', "Then it ended.", "Reported by J. R. Smith.", "The end (of the study.)", "Next."],
        ),
        (
            "Results were replicated by Blonquist et al. RESULTS: In most gliomas the enzyme was absent.",
            ["Results were replicated by Blonquist et al.", "RESULTS: In most gliomas the enzyme was absent."],
        ),
        ("  \n  ", []),
        ("No punctuation at all", ["No punctuation at all"]),
    ],
)
def test_rules(text: str, expected: list[str] | None) -> None:
    spans = split_sentences(text)
    _assert_partition(text, spans)
    if expected is None:
        expected = [
            "Doses were approx. 2.5 mg.",
            "Levels rose 3.5-fold.",
            "The U.S. Food and Drug Administration agreed.",
        ]
    assert _texts(spans, text) == expected


def test_paragraphs_and_offsets() -> None:
    text = "Title line without period\n\nFirst paragraph sentence one. Two\ncontinues here.\n\n\n  Last one"
    spans = split_sentences(text)
    _assert_partition(text, spans)
    assert _texts(spans, text) == [
        "Title line without period",
        "First paragraph sentence one.",
        "Two\ncontinues here.",
        "Last one",
    ]
    # A sub-range gives offsets into the whole text, never past its end.
    inner = split_sentences(text, 27, 70)
    assert inner[0] == (27, 27 + len("First paragraph sentence one."))
    assert all(b <= 70 for _, b in inner)


def test_speed(bc5cdr: list[dict]) -> None:
    """A regression guard, not the target: about 25k abstracts/s of CPU time measured on this 2-core machine
    while it was busy; a slow path (a per-character Python loop) would fall far below 5k."""
    texts = [d["abstract"] for d in bc5cdr]
    started = time.process_time()
    for _ in range(3):
        for text in texts:
            split_sentences(text)
    rate = 3 * len(texts) / (time.process_time() - started)
    assert rate > 5_000, rate


# ---------------------------------------------------------------------------------------------- chunking


def _check_windows(text: str, sentences: list[tuple[int, int]], windows: list[tuple[int, int]], max_chars: int) -> None:
    assert windows
    assert windows[0][0] == sentences[0][0] and windows[-1][1] == sentences[-1][1]
    for a, b in windows:
        assert 0 < b - a <= max_chars
        assert not text[a].isspace() and not text[b - 1].isspace()
    for (a1, b1), (a2, b2) in itertools.pairwise(windows):
        assert a1 < a2 and b1 < b2  # progress
        assert a2 <= b1 or text[b1:a2].isspace()  # no gap with text in it: together they cover the text


def test_chunks_of_real_abstracts(bc5cdr: list[dict]) -> None:
    text = "\n\n".join(d["title"] + "\n" + d["abstract"] for d in bc5cdr[:30])
    sentences = split_sentences(text)
    windows = chunk_spans(text, sentences, 2000, 200)
    _check_windows(text, sentences, windows, 2000)
    starts = {a for a, _ in sentences}
    ends = {b for _, b in sentences}
    assert all(a in starts and b in ends for a, b in windows)  # whole sentences only
    overlaps = [b1 - a2 for (_, b1), (a2, _) in itertools.pairwise(windows)]
    assert all(o > 0 for o in overlaps)  # consecutive windows share trailing sentences
    assert sum(overlaps) / len(overlaps) <= 400
    assert len(windows) >= len(text) // 2000


def test_short_text_is_one_window(bc5cdr: list[dict]) -> None:
    text = bc5cdr[0]["abstract"]
    sentences = split_sentences(text)
    assert chunk_spans(text, sentences, 20_000, 2_000) == [(sentences[0][0], sentences[-1][1])]
    assert chunk_spans(text, [], 100, 10) == []


def test_overlong_sentence_is_cut_at_whitespace() -> None:
    words = " ".join(f"word{i}" for i in range(2000))  # ~14k characters, no sentence boundary
    text = f"Short first sentence. {words}. Short last sentence."
    sentences = split_sentences(text)
    assert len(sentences) == 3
    windows = chunk_spans(text, sentences, 1000, 100)
    _check_windows(text, sentences, windows, 1000)
    for a, b in windows:  # cut between words, never inside one
        assert a == 0 or text[a - 1].isspace()
        assert b == len(text) or text[b].isspace()
    assert any(b1 > a2 for (_, b1), (a2, _) in itertools.pairwise(windows))


def test_unbreakable_token_is_hard_cut() -> None:
    text = "Sequence: " + "ACGT" * 3000 + "."
    sentences = split_sentences(text)
    windows = chunk_spans(text, sentences, 500, 50)
    _check_windows(text, sentences, windows, 500)


def test_invalid_window_arguments() -> None:
    with pytest.raises(ValueError):
        chunk_spans("a. b.", [(0, 2), (3, 5)], 0, 0)
    with pytest.raises(ValueError):
        chunk_spans("a. b.", [(0, 2), (3, 5)], 10, 10)


def test_window_invariants_on_random_texts() -> None:
    """Seeded random mixes of short, long and over-long sentences, windows and overlaps."""
    rng = random.Random(3)
    for _ in range(500):
        parts = []
        for _ in range(rng.randint(1, 30)):
            length = rng.choice([5, 20, 50, 200, 900, 3000])
            parts.append("A" + " ".join("x" * rng.randint(1, 12) for _ in range(max(1, length // 7))) + ".")
        text = " ".join(parts)
        sentences = split_sentences(text)
        max_chars = rng.choice([100, 300, 1000])
        windows = chunk_spans(text, sentences, max_chars, rng.choice([0, 10, 50, max_chars // 2, max_chars - 1]))
        _check_windows(text, sentences, windows, max_chars)
