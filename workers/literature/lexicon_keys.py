"""Lookup keys for surface names: the builder and the lexicon must compute them identically, so they live here.

Three keys per name, from strict to loose:
- `exact_key`: Unicode-folded, lowercase, Greek letters spelled out, whitespace collapsed, surrounding punctuation
  stripped ("Lithium  Carbonate." -> "lithium carbonate");
- `normalized_key`: also hyphen/space/punctuation-insensitive and singular ("beta-blockers" == "beta blocker");
- `sorted_key`: normalized words without function words, sorted ("cancer of the bladder" == "bladder cancer").
"""

from __future__ import annotations

import re
import unicodedata

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u00ad\ufe58\ufe63\uff0d"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u00b4`"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u2033"
_FOLD = str.maketrans(
    {**dict.fromkeys(_DASHES, "-"), **dict.fromkeys(_SINGLE_QUOTES, "'"), **dict.fromkeys(_DOUBLE_QUOTES, '"')}
)
_GREEK_NAMES = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi",
    "omicron", "pi", "rho", "sigma", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
]  # fmt: skip
# U+03B1 alpha .. U+03C9 omega, in code point order (U+03C2 is the final sigma).
GREEK = {chr(0x3B1 + i): name for i, name in enumerate(_GREEK_NAMES)}
_GREEK_RE = re.compile("|".join(GREEK))
_STRIP = " \t.,;:'\"!?*"
_FUNCTION_WORDS = frozenset({"of", "the", "and", "in", "on", "a", "an", "to", "with", "for", "by", "or"})
_WORDS = re.compile(r"[a-z0-9]+")
_SPELLING = (
    ("aemia", "emia"),
    ("haem", "hem"),
    ("oedem", "edem"),
    ("oesoph", "esoph"),
    ("aesth", "esth"),
    ("sulph", "sulf"),
    ("foetal", "fetal"),
    ("diarrhoea", "diarrhea"),
    ("leukaem", "leukem"),
    ("ischaem", "ischem"),
    ("anaem", "anem"),
    ("paed", "ped"),
    ("oestr", "estr"),
)
# Plural endings that are not plurals ("analysis", "virus", "diabetes", "herpes").
_NOT_PLURAL = ("ss", "us", "is", "betes", "pes")


def _strip_unbalanced(s: str) -> str:
    # "(lithium" or "lithium)" lose the stray bracket; "[3H]-naloxone" keeps its balanced one.
    changed = True
    while changed and s:
        changed = False
        for o, c in ("()", "[]", "{}"):
            if s.startswith(o) and s.count(o) > s.count(c):
                s, changed = s[1:], True
            elif s.endswith(c) and s.count(c) > s.count(o):
                s, changed = s[:-1], True
            elif s.startswith(o) and s.endswith(c) and _closes_at_end(s, o, c):
                s, changed = s[1:-1], True
        stripped = s.strip(_STRIP)
        changed = changed or stripped != s
        s = stripped
    return s


def _closes_at_end(s: str, o: str, c: str) -> bool:
    """Whether the bracket opening at 0 is the one closing at the end ("(x)" yes, "(x)-y(z)" no)."""
    depth = 0
    for i, ch in enumerate(s):
        depth += (ch == o) - (ch == c)
        if depth == 0:
            return i == len(s) - 1
    return False


def exact_key(name: str) -> str:
    s = unicodedata.normalize("NFKC", name).translate(_FOLD).lower()
    s = _GREEK_RE.sub(lambda m: GREEK[m.group()], s)
    s = " ".join(s.split())
    return _strip_unbalanced(s)


def singular(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_NOT_PLURAL):
        return word[:-1]
    return word


def _spelling(word: str) -> str:
    """British -> American spelling, applied to both sides of a lookup ("anaemia" == "anemia")."""
    for a, b in _SPELLING:
        if a in word:
            word = word.replace(a, b)
    return word[:-3] + "or" if word.endswith("our") and len(word) > 5 else word


def words(name: str) -> list[str]:
    return _WORDS.findall(exact_key(name))


def loose_words(name: str) -> list[str]:
    return [_spelling(w) for w in words(name)]


def normalized_key(name: str) -> str:
    ws = loose_words(name)
    if not ws:
        return ""
    ws[-1] = singular(ws[-1])
    return "".join(ws)


def sorted_key(name: str) -> str:
    ws = [singular(w) for w in loose_words(name) if w not in _FUNCTION_WORDS]
    return " ".join(sorted(ws))
