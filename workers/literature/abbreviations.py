"""Abbreviation definitions (Schwartz & Hearst 2003, PSB) and their use for normalization inside one document.

The algorithm, written from the paper's description:
- candidates are `long form (SF)` and `SF (long form)`; the second reading is taken when the parenthesis holds more
  than two words, with the single word before it as the short form (it must contain a capital letter);
- a short form has 2-10 characters, at most two words, at least one letter, and starts with a letter or digit;
- the long form is searched in the min(|SF| + 5, 2|SF|) words before the parenthesis (|SF| in characters);
- the short form is matched right to left against the long form, character by character; each character must be
  found further left than the previous one, and the first one must start a word of the long form. The long form is
  the shortest one that matches (it starts at the word holding the first character's match).
Extensions for abstracts: a parenthesis nested inside the short-form candidate is dropped ("6-OHDA (Sigma)" is read as
"6-OHDA"), a definition inside a parenthetical remark still counts, and the candidate short form is cut at "; " and
", " (e.g. "(BP; n = 5)").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

from workers.literature.pubtator import Mention

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z0-9(\[])")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    short_start: int
    short_end: int
    long_start: int
    long_end: int

    def short(self, text: str) -> str:
        return text[self.short_start : self.short_end]

    def long(self, text: str) -> str:
        return text[self.long_start : self.long_end]


def _valid_short(sf: str) -> bool:
    return 2 <= len(sf) <= 10 and len(sf.split()) <= 2 and any(c.isalpha() for c in sf) and sf[0].isalnum()


def best_long_form(short: str, long: str) -> int | None:
    """Start index in `long` of the shortest long form that `short` abbreviates, or None."""
    s = len(short) - 1
    j = len(long) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        # The first short-form character must sit at the start of a word of the long form.
        while j >= 0 and (long[j].lower() != c or (s == 0 and j > 0 and long[j - 1].isalnum())):
            j -= 1
        if j < 0:
            return None
        j -= 1
        s -= 1
    return long.rfind(" ", 0, j + 1) + 1


def _accept(short: str, long: str) -> bool:
    n_chars = sum(1 for c in short if c.isalnum())
    n_words = len(long.split())
    return (
        len(long) > len(short)
        and not re.search(rf"(?<!\w){re.escape(short)}(?!\w)", long)
        and n_words <= min(n_chars + 5, n_chars * 2)
    )


def _matching_close(text: str, open_at: int, limit: int) -> int | None:
    depth = 0
    for i in range(open_at, min(len(text), limit)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _strip_nested(inner: str) -> str:
    """Drop parenthesized parts (at any depth) from the candidate, keep the rest."""
    out: list[str] = []
    depth = 0
    for ch in inner:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out).rstrip()


def _left_boundary(text: str, pos: int) -> int:
    """Where the long-form window may start at most: the sentence start, or an enclosing open parenthesis."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        ch = text[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                return i + 1
            depth -= 1
        elif depth == 0 and ch in ".!?" and i + 1 < len(text) and text[i + 1] == " " and i + 2 < pos:
            nxt = text[i + 2]
            if nxt.isupper() or nxt.isdigit():
                return i + 2
    return 0


def _window_words(text: str, lo: int, hi: int, n_words: int) -> int:
    """Start offset of the last `n_words` words in text[lo:hi]."""
    words = list(_WORD.finditer(text, lo, hi))
    if not words:
        return hi
    return words[max(0, len(words) - n_words)].start()


def find_abbreviations(text: str) -> list[Abbreviation]:
    """Every definition in `text`, in text order; the first definition of a short form wins later on."""
    found: list[Abbreviation] = []
    for m in re.finditer(r"\(", text):
        open_at = m.start()
        close = _matching_close(text, open_at, open_at + 400)
        if close is None:
            continue
        raw_inner = text[open_at + 1 : close]
        inner = _strip_nested(raw_inner)
        for sep in ("; ", ", "):
            cut = inner.find(sep)
            if cut >= 0:
                inner = inner[:cut]
        inner_lead = len(raw_inner) - len(raw_inner.lstrip())
        inner = inner.strip()
        if not inner:
            continue
        sf_start = open_at + 1 + inner_lead
        found.extend(_candidate(text, open_at, close, inner, sf_start))
    return found


def _candidate(text: str, open_at: int, close: int, inner: str, inner_start: int) -> list[Abbreviation]:
    lo = _left_boundary(text, open_at)
    before = text[lo:open_at].rstrip()
    if not before:
        return []
    if len(inner.split()) <= 2 and len(inner) <= len(before):
        # long form (SF)
        if not _valid_short(inner):
            return []
        n_chars = len(inner)
        win_start = _window_words(text, lo, lo + len(before), min(n_chars + 5, n_chars * 2))
        window = text[win_start : lo + len(before)]
        start = best_long_form(inner, window)
        if start is None:
            return []
        long = window[start:].rstrip()
        if not _accept(inner, long):
            return []
        ls = win_start + start
        return [Abbreviation(inner_start, inner_start + len(inner), ls, ls + len(long))]
    # SF (long form): the word right before the parenthesis is the short form.
    words = list(_WORD.finditer(text, lo, lo + len(before)))
    if not words:
        return []
    w = words[-1]
    sf = w.group().strip(".,;:")
    sf_start = w.start() + (len(w.group()) - len(w.group().lstrip(".,;:")))
    if not _valid_short(sf) or not any(c.isupper() for c in sf):
        return []
    long_text = text[inner_start:close]
    long_text = long_text[: len(inner)]
    start = best_long_form(sf, long_text)
    if start is None:
        return []
    long = long_text[start:].rstrip()
    if not _accept(sf, long):
        return []
    return [Abbreviation(sf_start, sf_start + len(sf), inner_start + start, inner_start + start + len(long))]


@lru_cache(maxsize=64)
def definitions(text: str) -> Mapping[str, Abbreviation]:
    """Short form -> its first definition in the text. Cached (read-only): the document rules and normalization
    both ask for the same document, one after the other."""
    out: dict[str, Abbreviation] = {}
    for a in find_abbreviations(text):
        out.setdefault(a.short(text), a)
    return MappingProxyType(out)


def _long_mention(mentions: Sequence[Mention], a: Abbreviation) -> int | None:
    """The mention that is the long form: the exact span, else the longest mention inside it (the tagger may leave
    out a leading word the abbreviation algorithm kept)."""
    best: int | None = None
    for i, m in enumerate(mentions):
        if m.start >= a.long_start and m.end <= a.long_end:
            if (m.start, m.end) == (a.long_start, a.long_end):
                return i
            if best is None or m.end - m.start > mentions[best].end - mentions[best].start:
                best = i
    return best


Normalizer = Callable[[str, str], tuple[str, str | None] | None]


def expand(mentions: Sequence[Mention], text: str, lookup: Normalizer | None = None) -> list[Mention]:
    """Propagate normalization between defined short forms and their long forms, within one document.

    A mention whose text is a defined short form takes the long form's concept: the long-form mention's concept when
    the long form is itself a normalized mention, else `lookup(long_text, type)` (concept id, name). A long-form
    mention left unmatched takes the concept its short form got. Everything else is returned unchanged.
    """
    defs = definitions(text)
    if not defs:
        return list(mentions)
    out = list(mentions)
    long_mention = {sf: _long_mention(out, a) for sf, a in defs.items()}
    for i, m in enumerate(out):
        a = defs.get(m.text)
        if a is None or m.type == "Gene":
            continue
        j = long_mention[m.text]
        hit: tuple[str, str | None] | None = None
        if j is not None and out[j].type == m.type and out[j].concept_id:
            hit = (out[j].concept_id or "", out[j].concept_name)
        if hit is None and lookup is not None:
            hit = lookup(a.long(text), m.type)
        if hit is not None:
            out[i] = replace(m, concept_id=hit[0], concept_name=hit[1], match="abbreviation")
    # A long form the lexicon missed takes the concept its short form got (directly or through the lexicon).
    sf_concept: dict[str, tuple[str, str | None]] = {}
    for m in out:
        if m.text in defs and m.concept_id:
            sf_concept.setdefault(m.text, (m.concept_id, m.concept_name))
    for sf, j in long_mention.items():
        if j is not None and not out[j].concept_id and out[j].type != "Gene" and sf in sf_concept:
            cid, name = sf_concept[sf]
            out[j] = replace(out[j], concept_id=cid, concept_name=name, match="abbreviation")
    return out
