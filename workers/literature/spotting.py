"""Dictionary spotting of names the training corpus annotates consistently, where the tagger found nothing.

The tagger misses some plain names from context ("glycine", "captopril", "platelet aggregation"). A name the
annotators marked in at least `min_ratio` of its occurrences in the training texts (and at least `min_count`
times) is almost always a mention wherever it occurs, so a whole-word occurrence that overlaps no tagged mention
becomes a mention of the type it was annotated with (longest first, never overlapping), with the ratio as score.
The table is built with the lexicon from the same annotations (`lexicon_build`), so the training-only build is what
the development figures measure. Occurrences are counted and matched by the same word n-grams (`ngram_spans`).

Measured on BC5CDR development (training-only build, raw abstracts, shipped tagger and training-only CID model),
mention micro F1 / concept F1 / CID F1: without spotting 0.8523 / 0.8363 / 0.5383; ratio >= 0.7 and one aligned
annotation (2,104 names) 0.8559 / 0.8405 / 0.5389; two annotations 0.8542 / 0.8377 / 0.5382; ratio 0.5 (two)
0.8543 / 0.8382 / 0.5370; ratio 0.9 (two) 0.8543 / 0.8378 / 0.5382. A name counts as annotated only where a gold
span is exactly its n-gram (a chemical annotated inside "cisplatin-induced" is no evidence for spotting
"cisplatin" as a whole word).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from workers.literature.pubtator import Mention

_TOKEN = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")
MAX_WORDS = 6
MIN_RATIO = 0.7
MIN_COUNT = 1
MIN_CHARS = 3
TYPES = ("Chemical", "Disease")


def _key(s: str) -> str:
    s = s.lower()
    return " ".join(s.split()) if ("  " in s or "\n" in s or "\t" in s) else s


def ngram_spans(text: str, max_words: int = MAX_WORDS) -> Iterator[tuple[int, int, str]]:
    """(start, end, key) of every run of 1..max_words tokens (a token never splits a hyphenated word)."""
    toks = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    for i, (start, _) in enumerate(toks):
        for _, end in toks[i : i + max_words]:
            yield start, end, _key(text[start:end])


def build_table(
    docs: Iterable[tuple[str, Sequence[Mention]]], min_ratio: float = MIN_RATIO, min_count: int = MIN_COUNT
) -> dict[str, list[Any]]:
    """key -> [type, ratio] from (text, gold mentions) pairs: the share of a name's n-gram occurrences that are
    exactly a gold mention's span."""
    docs = list(docs)
    annotated: Counter[str] = Counter()
    types: dict[str, Counter[str]] = {}
    for text, mentions in docs:
        for m in mentions:
            if m.type in TYPES:
                k = _key(text[m.start : m.end])
                types.setdefault(k, Counter())[m.type] += 1
    names = {k for k in types if len(k) >= MIN_CHARS and any(c.isalpha() for c in k)}
    occurrences: Counter[str] = Counter()
    for text, mentions in docs:
        gold = {(m.start, m.end) for m in mentions if m.type in TYPES}
        for start, end, k in ngram_spans(text):
            if k in names:
                occurrences[k] += 1
                annotated[k] += (start, end) in gold
    table: dict[str, list[Any]] = {}
    for k in sorted(names):
        n, hit = occurrences[k], annotated[k]
        if n and hit >= min_count and hit / n >= min_ratio:
            table[k] = [types[k].most_common(1)[0][0], round(hit / n, 3)]
    return table


class SpotTable:
    """The names of a table, indexed by first token so a text's n-grams are only built where a name can start
    (spotting every n-gram of an abstract cost 0.7 ms; this is most of the post-tagging budget)."""

    def __init__(self, names: Mapping[str, Sequence[Any]] | None = None) -> None:
        self.names: dict[str, Sequence[Any]] = dict(names or {})
        self._longest: dict[str, int] = {}  # first token -> most tokens of a name starting with it
        for k in self.names:
            toks = _TOKEN.findall(k)
            if toks:
                self._longest[toks[0]] = max(self._longest.get(toks[0], 0), len(toks))

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, key: str) -> Sequence[Any]:
        return self.names[key]

    def __contains__(self, key: object) -> bool:
        return key in self.names

    def find(self, text: str) -> list[tuple[int, int, str, float]]:
        """(start, end, type, ratio) of every occurrence of a name, overlapping ones included."""
        if not self.names:
            return []
        toks = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        out = []
        for i, (start, end) in enumerate(toks):
            n = self._longest.get(text[start:end].lower(), 0)
            for _, stop in toks[i : i + n]:
                hit = self.names.get(_key(text[start:stop]))
                if hit is not None:
                    out.append((start, stop, str(hit[0]), float(hit[1])))
        return out


def spot(text: str, mentions: Sequence[Mention], table: SpotTable) -> list[Mention]:
    """`mentions` plus the table's names found where no mention overlaps, in text order."""
    found = table.find(text)
    if not found:
        return list(mentions)
    taken = [(m.start, m.end) for m in mentions]
    out = list(mentions)
    for s, e, kind, ratio in sorted(found, key=lambda f: (f[0] - f[1], f[0])):  # longest first
        if not any(s < b and a < e for a, b in taken):
            taken.append((s, e))
            out.append(Mention(s, e, text[s:e], kind, ratio))
    return sorted(out, key=lambda m: (m.start, m.end))
