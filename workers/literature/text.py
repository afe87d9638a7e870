"""Sentence boundaries and model-sized windows over document text, as character spans.

Rule-based and dependency-free: it runs on every abstract, so it is one regex pass over boundary candidates
(". ", "? ", "! ", blank lines) with a few cheap checks per candidate, not a tokenizer. Spans are offsets into
the text it was given, so entity offsets computed per sentence or window map straight back to the document.
"""

from __future__ import annotations

import re

# Abbreviations after which a period does not end the sentence. Lower-case ones only as written ("Ca." may be
# calcium ending a sentence, "ca." is circa); titles and figure/reference words in any case.
_LOWER_ABBREVIATIONS = "al vs v cf ca sp spp subsp ssp var approx resp viz incl esp ed eds sec"
_ANY_CASE_ABBREVIATIONS = "fig figs dr drs mr mrs ms prof st jr sr ref refs eq eqs tab suppl vol"


def _not_after_abbreviation() -> str:
    """Negative lookbehinds (one per width, as Python requires fixed widths) for "word." at a word start."""
    widths: dict[int, list[str]] = {}
    for words, flags in ((_LOWER_ABBREVIATIONS, ""), (_ANY_CASE_ABBREVIATIONS, "?i:")):
        for word in words.split():
            widths.setdefault(len(word), []).append(f"({flags}{word})" if flags else word)
    # A word start: not after a letter, digit or period ("i.v." is not "v.", "3v." not either).
    parts = [rf"(?<!(?<![\w.])(?:{'|'.join(alts)})\.)" for _, alts in sorted(widths.items())]
    parts.append(r"(?<!(?<![\w.])(?:e\.g|i\.e|U\.S|U\.K)\.)")
    return "".join(parts)


# A candidate boundary: terminal punctuation not closing an abbreviation, optional closing quotes/brackets, then
# whitespace. Text with line breaks also splits on blank lines; that alternation makes the scan several times
# slower, so it is used only there.
_CLOSERS = "[\"'\u201d\u2019\u00bb)\\]]*"
# A structured-abstract label ("... et al. RESULTS: ...") starts a sentence even after an abbreviation.
_LABEL = r"(?=\s+[A-Z][A-Z]+(?: [A-Z]+)*:)"
# The pattern starts with a character set so that re's scan jumps between punctuation marks; the lookbehinds,
# all ending in ".", never match after "?" or "!".
_PUNCT = rf"[.?!](?:{_not_after_abbreviation()}|{_LABEL})"
_CANDIDATE = re.compile(rf"({_PUNCT}){_CLOSERS}(\s+)")
_CANDIDATE_NL = re.compile(rf"({_PUNCT}){_CLOSERS}(\s+)|\n[ \t\r\f\v]*\n\s*")
# What may start a sentence besides an upper-case letter, a digit or a Greek letter.
_OPENERS = frozenset("\"'\u201c\u2018\u00ab([{")
# Lower-case gene/molecule names that start sentences in abstracts: mRNA, p53, siRNA, pH, iNOS, cDNA.
_LOWER_START = re.compile(r"[a-z]{1,4}[A-Z0-9]")
# Words that continue the sentence before a number only ("No. 5", "p. 12", "pp. 3"); "No." may also answer.
_BEFORE_DIGIT = re.compile(r"\b(?i:no|nos|pp|nr|p|n)$")
_PAREN_LOOKAHEAD = 200  # an open parenthesis that does not close within this many characters is not a clause


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans (start, end) within text[start:end], trimmed of surrounding whitespace.

    Every non-space character of the range lies in exactly one span. Split per passage (title, abstract):
    a title without final punctuation would otherwise run into the abstract's first sentence.
    """
    stop = len(text) if end is None else min(end, len(text))
    spans: list[tuple[int, int]] = []
    seg = start
    while seg < stop and text[seg].isspace():
        seg += 1
    newlines = text.find("\n", start, stop) != -1
    # After any match `seg` sits on a non-space character (the patterns consume the whitespace run), and a
    # sentence ends on its punctuation, so only paragraph breaks and the last span need trimming.
    for m in (_CANDIDATE_NL if newlines else _CANDIDATE).finditer(text, start, stop):
        cut = m.end()
        if m.group(1) is None:
            _append(text, seg, m.start(), spans)
        else:
            if cut >= stop:
                break  # trailing punctuation: the last sentence ends with the range anyway
            ws_at = m.start(2)
            if not (newlines and m.group(2).count("\n") > 1) and not _ends_sentence(text, seg, m.start(), ws_at, cut):
                continue
            if seg < ws_at:
                spans.append((seg, ws_at))
        seg = cut
    _append(text, seg, stop, spans)
    return spans


def _append(text: str, a: int, b: int, spans: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        spans.append((a, b))


def _ends_sentence(text: str, seg: int, punct_at: int, ws_at: int, nxt_at: int) -> bool:
    nxt = text[nxt_at]
    starts = nxt.isupper() or nxt.isdigit() or nxt in _OPENERS or "\u0370" <= nxt <= "\u03ff"
    if not starts and not _LOWER_START.match(text, nxt_at):
        return False
    if text[punct_at] == "." and punct_at == ws_at - 1:
        before = text[punct_at - 2] if punct_at - 2 >= seg else " "
        if before == "." and _dotted(text, seg, punct_at):
            if not _capitalised(text, nxt_at):
                return False
        elif not before.isalnum():  # a one-character word
            if _initial(text, seg, punct_at - 1, nxt_at):
                return False
        elif nxt.isdigit() and _BEFORE_DIGIT.search(text, max(seg, punct_at - 3), punct_at):
            return False
    # "(see Methods. Patients ...)" stays one sentence; a stray "(" far back does not block every split.
    if text.find("(", seg, punct_at) != -1 or text.find("[", seg, punct_at) != -1:
        depth = text.count("(", seg, punct_at) - text.count(")", seg, punct_at)
        depth += text.count("[", seg, punct_at) - text.count("]", seg, punct_at)
        if depth > 0:
            ahead = text[nxt_at : nxt_at + _PAREN_LOOKAHEAD]
            if ")" in ahead or "]" in ahead:
                return False
    return True


def _dotted(text: str, seg: int, dot: int) -> bool:
    """Whether the word ending at `dot` is letters joined by periods ("i.v", "p.o"), not "0.5" or "Fig.2".
    Such words end sentences as often as not, so they end one only before a capitalised word ("... 5 mg/kg
    i.v. Somewhat fewer ..."), not before "MP", "(", or a number; e.g./i.e./U.S. never do (the lookbehinds)."""
    return (
        dot - 3 >= seg
        and text[dot - 1].isalpha()
        and text[dot - 3].isalpha()
        and (dot - 4 < seg or not text[dot - 4].isalnum())
    )


def _capitalised(text: str, at: int) -> bool:
    return text[at].isupper() and at + 1 < len(text) and text[at + 1].islower()


def _initial(text: str, seg: int, at: int, nxt_at: int) -> bool:
    """Whether the one-character word at `at`, before a period, continues the sentence."""
    char = text[at]
    if char in "pn":
        return text[nxt_at].isdigit()  # "p. 5", "n. 12"
    if not char.isupper():
        return False
    # A lone capital ends sentences far more often than it abbreviates a name ("hepatitis C.", "Group B."),
    # so it is an initial only at the start of the sentence, after a comma, or next to another initial.
    if not text[seg:at].strip(" \t\n([\"'") or (text[nxt_at + 1 : nxt_at + 2] == "." and text[nxt_at].isupper()):
        return True
    before = text[max(seg, at - 4) : at].rstrip()
    return before.endswith(",") or (len(before) >= 2 and before[-1] == "." and before[-2].isupper())


def chunk_spans(
    text: str, sentences: list[tuple[int, int]], max_chars: int, overlap_chars: int
) -> list[tuple[int, int]]:
    """Windows (start, end) of whole sentences, each at most max_chars long, consecutive windows sharing about
    overlap_chars of trailing sentences (at least one sentence when overlap_chars > 0 and it fits in half a
    window). A sentence longer than a window is first cut at whitespace."""
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    if not 0 <= overlap_chars < max_chars:
        raise ValueError("overlap_chars must be >= 0 and smaller than max_chars")
    if not sentences:
        return []
    if sentences[-1][1] - sentences[0][0] <= max_chars:
        return [(sentences[0][0], sentences[-1][1])]
    # Pieces of an over-long sentence are small enough that the window overlap can still hold one.
    piece = max(1, min(max_chars, max(overlap_chars, max_chars // 4)))
    units: list[tuple[int, int]] = []
    for a, b in sentences:
        if b - a <= max_chars:
            units.append((a, b))
        else:
            units.extend(_cut(text, a, b, piece))
    windows: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last = first
        while last + 1 < len(units) and units[last + 1][1] - units[first][0] <= max_chars:
            last += 1
        windows.append((units[first][0], units[last][1]))
        if last + 1 >= len(units):
            break
        nxt = last + 1
        # Back up over whole trailing units while they fit in the overlap; always move forward. When not even the
        # last sentence fits, it is repeated anyway if it leaves half a window: an entity cut at the window edge
        # must appear whole in the next one.
        reach = units[last + 1][1]  # the next window must get at least one new unit in
        while nxt - 1 > first and units[last][1] - units[nxt - 1][0] <= overlap_chars:
            if reach - units[nxt - 1][0] > max_chars:
                break
            nxt -= 1
        repeat = overlap_chars > 0 and last > first and units[last][1] - units[last][0] <= max_chars // 2
        if nxt == last + 1 and repeat and reach - units[last][0] <= max_chars:
            nxt = last
        first = nxt
    return windows


def _cut(text: str, a: int, b: int, size: int) -> list[tuple[int, int]]:
    """Cut text[a:b] into pieces of at most `size` characters, at the last whitespace in each piece's second half."""
    pieces: list[tuple[int, int]] = []
    while b - a > size:
        limit = a + size
        half = a + size // 2
        cut = max(
            text.rfind(" ", half, limit + 1), text.rfind("\n", half, limit + 1), text.rfind("\t", half, limit + 1)
        )
        if cut <= a:
            cut = limit  # no whitespace (a sequence, a URL): a hard cut
        pieces.append((a, _rstrip(text, a, cut)))
        a = cut
        while a < b and text[a].isspace():
            a += 1
    if a < b:
        pieces.append((a, b))
    return pieces


def _rstrip(text: str, a: int, b: int) -> int:
    while b > a and text[b - 1].isspace():
        b -= 1
    return b
