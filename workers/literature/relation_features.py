"""Candidate (chemical, disease) concept pairs of one document and their features, for CID extraction.

Features are plain floats by name, so the model file can list what it was trained on and inference needs no code
beyond this module and numpy. Groups:
- counts and salience: mentions per concept, most frequent chemical/disease, title, first position, last sentence;
- co-occurrence: sentences holding both, the closest token distance, which comes first;
- cue words (regexes below) between the closest pair and anywhere in the co-occurring sentences: induced/caused,
  associated, after/following, toxicity, therapy/prevention, negation, "patients with" (a pre-existing condition);
- hierarchy (MeSH tree numbers from the lexicon): a disease more general than another one in the same abstract is
  rarely the annotated one (BC5CDR annotates the most specific concept);
- priors: how often the chemical, the disease and the pair were in a CID relation in training (the trainer
  computes them on other folds for the training documents, so a label never informs its own feature);
- lexical: the best and mean sentence score of `relation_lexical`'s scorer (likewise fit on other folds).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from workers.literature.documents import Document
from workers.literature.pubtator import Mention, id_parts
from workers.literature.relation_lexical import FEATURES as LEXICAL_FEATURES
from workers.literature.relation_lexical import LexicalScorer, contexts
from workers.literature.text import split_sentences as split_text

_TOKEN = re.compile(r"\w+|[^\w\s]")

CUES: dict[str, re.Pattern[str]] = {
    "induced": re.compile(r"induc"),
    "cause": re.compile(
        r"caus|produc|provok|elicit|precipitat|evok|result\w* in|lead\w* to|\bled to|responsib|attribut|secondary to"
        r"|due to|develop"
    ),
    "assoc": re.compile(r"associat|relat|link|correlat"),
    "temporal": re.compile(r"\bafter\b|\bfollowing\b|\bduring\b|\bwhile\b|\bsince\b|\bpost"),
    "adverse": re.compile(r"toxic|adverse|side.effect|complicat|overdos|intoxic|poison|abuse|reaction"),
    "therapy": re.compile(
        r"treat|therap|prevent|protect|attenuat|revers|amelior|inhibit|reduc|improv|benefi|efficac|manag|suppress"
        r"|allevia|reliev|antagon|abolish|block|control"
    ),
    "negation": re.compile(r"\bno\b|\bnot\b|\bwithout\b|\bnone\b|\bneither\b|\bnor\b|\babsen|\bfail|\bunlikely\b"),
    "patients_with": re.compile(r"(?:patients?|subjects?|children|women|men|rats|mice|cases?) (?:with|having)\b"),
    "risk": re.compile(r"risk|incidence|frequen|occurr|rate of"),
}
# "<chemical>-induced <disease>", "<chemical> induced <disease>", "<chemical>-associated ..."
_CHEM_INDUCED = re.compile(r"^\s*-?\s*(?:induc|associat|relat|evok|provok|mediat|elicit|caus)\w*")
# "<disease> induced by / caused by / after / following <chemical>"
_INDUCED_BEFORE = re.compile(r"(?:induc|associat|relat|evok|provok|caus)\w*\s*(?:\w+\s+){0,2}$")
_DIS_BY_CHEM = re.compile(
    r"(?:induced|caused|produced|provoked|elicited) by|\bafter\b|\bfollowing\b|due to|secondary to"
)


def split_sentences(doc: Document) -> list[tuple[int, int]]:
    """Sentence spans per passage with the product's splitter, so training sees the sentences inference gets."""
    text = doc.text
    return [s for p in doc.passages for s in split_text(text, p.offset, p.offset + len(p.text))]


@dataclass
class Concept:
    cid: str
    kind: str
    mentions: list[Mention] = field(default_factory=list)
    sentences: set[int] = field(default_factory=set)
    first: int = 0
    in_title: bool = False


@dataclass
class Candidate:
    chemical: Concept
    disease: Concept
    features: dict[str, float]
    evidence: tuple[int, int] | None


def _tree_relations(concepts: Sequence[Concept], trees: Callable[[str], Sequence[str]]) -> dict[str, tuple[bool, bool]]:
    """Concept id -> (has a more specific concept of its type in the document, has a more general one)."""
    known = {c.cid: tuple(trees(c.cid)) for c in concepts}
    out: dict[str, tuple[bool, bool]] = {}
    for c in concepts:
        mine = known[c.cid]
        below = above = False
        for o in concepts:
            if o.cid == c.cid or o.kind != c.kind:
                continue
            theirs = known[o.cid]
            below = below or any(t.startswith(m + ".") for t in theirs for m in mine)
            above = above or any(m.startswith(t + ".") for t in theirs for m in mine)
        out[c.cid] = (below, above)
    return out


def _depth(tree_numbers: Sequence[str]) -> float:
    return float(min(t.count(".") + 1 for t in tree_numbers)) if tree_numbers else 0.0


def _prior(table: Mapping[str, Sequence[int]], key: str) -> tuple[float, float]:
    """(smoothed log-odds of being in a CID pair, log1p of how often it was seen)."""
    pos, n = table.get(key, (0, 0))
    return math.log((pos + 0.5) / (n - pos + 1.5)), math.log1p(n)


def candidates(
    doc: Document,
    sentences: Sequence[tuple[int, int]],
    mentions: Sequence[Mention],
    priors: Mapping[str, Mapping[str, Sequence[int]]],
    trees: Callable[[str], Sequence[str]],
    lexical: LexicalScorer | None = None,
) -> list[Candidate]:
    """Every (chemical, disease) concept pair of the document with its features (the lexical ones are 0 without a
    scorer, so every candidate carries the same names)."""
    text = doc.text
    lower = text.lower()
    title = doc.passages[0] if doc.passages and doc.passages[0].kind == "title" else None
    title_end = len(title.text) if title is not None else -1
    starts = [s for s, _ in sentences]
    n_text = max(1, len(text))
    concepts: dict[tuple[str, str], Concept] = {}
    for m in sorted(mentions, key=lambda m: m.start):
        if m.type not in ("Chemical", "Disease"):
            continue
        sent = max(0, bisect.bisect_right(starts, m.start) - 1)
        for part in id_parts(m.concept_id):
            c = concepts.setdefault((m.type, part), Concept(part, m.type, first=m.start))
            c.mentions.append(m)
            c.sentences.add(sent)
            c.in_title = c.in_title or m.start < title_end
    chems = [c for c in concepts.values() if c.kind == "Chemical"]
    diss = [c for c in concepts.values() if c.kind == "Disease"]
    if not chems or not diss:
        return []
    hier = _tree_relations([*chems, *diss], trees)
    top_c = max(len(c.mentions) for c in chems)
    top_d = max(len(d.mentions) for d in diss)
    all_c = sum(len(c.mentions) for c in chems)
    all_d = sum(len(d.mentions) for d in diss)
    inducer = {c.cid for c in chems if any(_CHEM_INDUCED.match(lower[m.end : m.end + 20]) for m in c.mentions)}
    induced = {d.cid for d in diss if any(_INDUCED_BEFORE.search(lower[max(0, m.start - 25) : m.start])
                                          for m in d.mentions)}  # fmt: skip
    last = len(sentences) - 1
    lexical_contexts = contexts(text, sentences, mentions) if lexical is not None else {}
    out: list[Candidate] = []
    for c in chems:
        for d in diss:
            f: dict[str, float] = {}
            f["c_count"], f["d_count"] = math.log1p(len(c.mentions)), math.log1p(len(d.mentions))
            f["c_top"], f["d_top"] = float(len(c.mentions) == top_c), float(len(d.mentions) == top_d)
            f["n_chem"], f["n_dis"] = math.log1p(len(chems)), math.log1p(len(diss))
            f["c_only"], f["d_only"] = float(len(chems) == 1), float(len(diss) == 1)
            f["c_share"], f["d_share"] = len(c.mentions) / all_c, len(d.mentions) / all_d
            f["c_inducer"], f["d_induced"] = float(c.cid in inducer), float(d.cid in induced)
            f["inducer_induced"] = float(c.cid in inducer and d.cid in induced)
            f["c_title"], f["d_title"] = float(c.in_title), float(d.in_title)
            f["c_first"], f["d_first"] = c.first / n_text, d.first / n_text
            f["c_last_sent"], f["d_last_sent"] = float(last in c.sentences), float(last in d.sentences)
            shared = sorted(c.sentences & d.sentences)
            f["cooc"] = float(bool(shared))
            f["cooc_n"] = math.log1p(len(shared))
            f["cooc_frac"] = len(shared) / max(1, min(len(c.sentences), len(d.sentences)))
            f["title_both"] = float(c.in_title and d.in_title)
            f["title_c_no_cooc"] = float(c.in_title and not shared)
            f["top_c_no_cooc"] = float(f["c_top"] and not shared)
            f["last_both"] = float(last in shared)
            evidence, sent_feats = _sentence_features(lower, sentences, shared, c, d, title_end)
            f.update(sent_feats)
            below_d, above_d = hier.get(d.cid, (False, False))
            below_c, above_c = hier.get(c.cid, (False, False))
            f["d_general"], f["d_specific"] = float(below_d), float(above_d)
            f["c_general"], f["c_specific"] = float(below_c), float(above_c)
            d_trees = trees(d.cid)
            f["d_depth"], f["d_no_tree"] = _depth(d_trees) / 5.0, float(not d_trees)
            f["c_prior"], f["c_seen"] = _prior(priors.get("chemical", {}), c.cid)
            f["d_prior"], f["d_seen"] = _prior(priors.get("disease", {}), d.cid)
            f["pair_prior"], f["pair_seen"] = _prior(priors.get("pair", {}), f"{c.cid}\t{d.cid}")
            if lexical is not None:
                f.update(lexical.features(lexical_contexts.get((c.cid, d.cid))))
            else:
                f.update(dict.fromkeys(LEXICAL_FEATURES, 0.0))
            out.append(Candidate(c, d, f, evidence))
    return out


def _sentence_features(
    lower: str, sentences: Sequence[tuple[int, int]], shared: Sequence[int], c: Concept, d: Concept, title_end: int
) -> tuple[tuple[int, int] | None, dict[str, float]]:
    """Cue features over the sentences holding both concepts (max over sentences); the evidence sentence is the
    one with the strongest "induced" reading, then the closest pair."""
    f: dict[str, float] = {f"between_{k}": 0.0 for k in CUES}
    f.update({f"sent_{k}": 0.0 for k in CUES})
    f.update({"chem_induced": 0.0, "dis_by_chem": 0.0, "chem_first": 0.0, "dist_3": 0.0, "dist_8": 0.0,
              "dist_20": 0.0, "dist_far": 0.0, "title_induced": 0.0, "chem_induced_dis": 0.0})  # fmt: skip
    best: tuple[float, tuple[int, int]] | None = None
    for i in shared:
        s, e = sentences[i]
        pairs = [(a, b) for a in c.mentions if s <= a.start < e for b in d.mentions if s <= b.start < e]
        if not pairs:
            continue
        a, b = min(pairs, key=lambda p: abs(p[0].start - p[1].start))
        lo, hi = (a.end, b.start) if a.start < b.start else (b.end, a.start)
        between = lower[lo:hi] if hi > lo else ""
        dist = len(_TOKEN.findall(between))
        sentence = lower[s:e]
        for k, rx in CUES.items():
            if rx.search(between):
                f[f"between_{k}"] = 1.0
            if rx.search(sentence):
                f[f"sent_{k}"] = 1.0
        induced = any(_CHEM_INDUCED.match(lower[m.end : m.end + 20]) for m in c.mentions if s <= m.start < e)
        # The tight pattern: "<chemical>-induced [adjectives] <disease>".
        tight = any(
            _CHEM_INDUCED.match(lower[x.end : x.end + 20]) and 0 <= y.start - x.end <= 40
            for x in c.mentions if s <= x.start < e for y in d.mentions if s <= y.start < e
        )  # fmt: skip
        f["chem_induced_dis"] = max(f["chem_induced_dis"], float(tight))
        by_chem = b.start < a.start and bool(_DIS_BY_CHEM.search(between))
        f["chem_induced"] = max(f["chem_induced"], float(induced))
        f["dis_by_chem"] = max(f["dis_by_chem"], float(by_chem))
        f["chem_first"] = max(f["chem_first"], float(a.start < b.start))
        bucket = "dist_3" if dist <= 3 else "dist_8" if dist <= 8 else "dist_20" if dist <= 20 else "dist_far"
        f[bucket] = 1.0
        if e <= title_end + 1 and induced:
            f["title_induced"] = 1.0
        strength = (
            2.0 * tight
            + induced
            + by_chem
            + bool(CUES["induced"].search(between))
            + bool(CUES["cause"].search(between))
            - 0.5 * bool(CUES["therapy"].search(between))
            - dist / 100.0
        )
        if best is None or strength > best[0]:
            best = (strength, (s, e))
    return (best[1] if best else None), f


def group_mentions(mentions: Sequence[Mention]) -> dict[tuple[str, str], list[Mention]]:
    """(type, concept id part) -> mentions; for the baselines and relation texts."""
    out: dict[tuple[str, str], list[Mention]] = defaultdict(list)
    for m in mentions:
        for part in id_parts(m.concept_id):
            out[(m.type, part)].append(m)
    return out
