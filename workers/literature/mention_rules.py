"""Document-level corrections of tagged mentions, applied before normalization.

The tagger sees one sentence at a time; what only the whole document or the corpus shows (measured on BC5CDR
development, README "Literature quality"):
- a short form defined in the text ("dopamine (DA)") is the same entity everywhere the text uses it. The tagger
  misses many bare short forms (DA, 5-HT, NTG, OAB were the most missed mentions). Every occurrence of a defined
  short form takes its long form's type; a short form whose long form is no mention at all is dropped (an
  abbreviation of a non-entity, such as a gene or a measure, is no chemical or disease either).
- a disease mention the lexicon does not know, but whose tail it knows ("acute bacterial sinusitis" ->
  "sinusitis"), is cut to that tail: the annotation convention (BC5CDR, MeSH) leaves out severity, site and
  course modifiers, and the tail is what normalization can name. A generic head ("disease", "syndrome") is never
  such a tail;
- a name the training corpus annotates in most of its occurrences is a mention wherever the tagger left it
  untouched (`spotting`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from workers.literature.abbreviations import definitions
from workers.literature.pubtator import Mention
from workers.literature.spotting import spot

if TYPE_CHECKING:
    from workers.literature.ner import Span
    from workers.literature.normalize import Lexicon

_WORD = re.compile(r"\S+")
_PROPAGATED = ("Chemical", "Disease")
MAX_TRIMMED_WORDS = 3
# MeSH has descriptors named "Disease" and "Syndrome": a tail that is only a generic head names nothing specific.
_GENERIC_HEADS = frozenset(
    {"disease", "diseases", "syndrome", "syndromes", "disorder", "disorders", "illness", "condition", "conditions"}
)


def document_mentions(text: str, spans: Sequence[Span], lexicon: Lexicon | None) -> list[Mention]:
    """Tagger spans of one document -> mentions after the document-level rules, in text order."""
    mentions = [Mention(s.start, s.end, text[s.start : s.end], s.type, round(s.score, 4)) for s in spans]
    mentions = propagate_abbreviations(text, mentions)
    if lexicon is not None:
        mentions = trim_modifiers(text, mentions, lexicon)
        mentions = spot(text, mentions, lexicon.spotting)
    return sorted(mentions, key=lambda m: (m.start, m.end))


def _occurrences(text: str, needle: str) -> Iterator[tuple[int, int]]:
    """Whole-word occurrences of `needle` (not inside a longer token)."""
    for m in re.finditer(re.escape(needle), text):
        a, b = m.start(), m.end()
        if (a == 0 or not text[a - 1].isalnum()) and (b == len(text) or not text[b].isalnum()):
            yield a, b


def propagate_abbreviations(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    out = list(mentions)
    for short, a in definitions(text).items():
        inside = [m for m in out if m.start >= a.long_start and m.end <= a.long_end]
        long = max(inside, key=lambda m: m.end - m.start, default=None)
        if long is None:
            out = [m for m in out if not (m.text == short and m.type in _PROPAGATED)]
            continue
        # The long-form mention must cover most of the long form: "of the (TBI)" is no definition of a mention.
        if long.type not in _PROPAGATED or 2 * (long.end - long.start) < a.long_end - a.long_start:
            continue
        for x, y in _occurrences(text, short):
            covering = [m for m in out if m.start < y and x < m.end]
            if any(m.start < x or m.end > y for m in covering):
                continue  # part of a longer mention ("DA agonist-induced ..."): leave it
            out = [m for m in out if m not in covering]
            out.append(Mention(x, y, short, long.type, long.score))
    return out


def trim_modifiers(text: str, mentions: Sequence[Mention], lexicon: Lexicon) -> list[Mention]:
    out = []
    for m in mentions:
        if m.type == "Disease" and lexicon.lookup(m.text, m.type, fallbacks=False) is None:
            starts = [w.start() + m.start for w in _WORD.finditer(m.text)][1 : 1 + MAX_TRIMMED_WORDS]
            for a in starts:
                tail = text[a : m.end]
                if tail.lower() in _GENERIC_HEADS:
                    break
                if lexicon.lookup(tail, m.type, fallbacks=False) is not None:
                    m = Mention(a, m.end, text[a : m.end], m.type, m.score)
                    break
        out.append(m)
    return out
