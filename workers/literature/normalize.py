"""Normalize chemical and disease mentions to MeSH with the shipped lexicon (numpy-free, torch-free).

Lookup cascade per mention, first hit wins: exact key -> normalized key (hyphen/space/plural-insensitive) -> sorted
key (word order) -> `disease_adjective` fallback (last word adjective -> noun: "ischemic" -> "ischemia",
"psychotic" -> "psychosis"), then in-document abbreviation definitions override short forms. Fallbacks are switched
on by the "query" record in the lexicon file; only those that raised BC5CDR development concept F1 are on. Measured
and dropped: a head-word fallback for diseases (drop leading words: F1 0.8334 -> 0.8273, precision fell), dropping
leading severity modifiers (no change) and dropping salt words of chemicals (0.8307 -> 0.8305).
Layout of lexicon.json.gz: `concepts` = [[id, type, name, tree numbers, smiles index]], `tables[type][layer][key]` =
concept index (-1: a name BC5CDR leaves unnormalized), `smiles` = list, `smiles_names[key]` = smiles index.

CLI: `python -m workers.literature.normalize build --data ../shared/data/bc5cdr --out DIR [--include-dev]` (the
training-only evaluation build by default; the shipped file is the `--include-dev` build, see its card) and
`python -m workers.literature.normalize evaluate --gold FILE [--lexicon FILE]`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from workers.literature.abbreviations import expand
from workers.literature.lexicon_keys import exact_key, loose_words, normalized_key, sorted_key
from workers.literature.pubtator import Mention
from workers.literature.spotting import SpotTable

DEFAULT_DIR = Path(__file__).parent / "models" / "lexicon"
DEFAULT_PATH = DEFAULT_DIR / "lexicon.json.gz"
# Adjective -> noun for the last word ("ischemic" -> "ischemia", "psychotic" -> "psychosis").
_ADJECTIVE_SUFFIXES = (
    ("otic", "osis"),
    ("etic", "esia"),
    ("lytic", "lysis"),
    ("emic", "emia"),
    ("ic", "ia"),
    ("ian", "ism"),
    ("al", ""),
)
_cache: dict[Path, Lexicon] = {}
_lock = threading.Lock()


class Lexicon:
    def __init__(self, data: dict[str, Any], path: Path | None = None, sha256: str = "") -> None:
        if data.get("format") != "medsieve-lexicon":
            raise ValueError("not a medsieve lexicon file")
        self.path = path
        self.data = data
        self.version = str(data.get("version", 1))
        self.sha256 = sha256  # of the file it was loaded from; "" when built in memory
        self.concepts: list[list[Any]] = data["concepts"]
        self.tables: dict[str, dict[str, dict[str, int]]] = data["tables"]
        self.smiles: list[str] = data["smiles"]
        self.smiles_names: dict[str, int] = data["smiles_names"]
        self.query: dict[str, bool] = dict(data.get("query") or {})
        # Names annotated in most of their training occurrences: key -> [type, ratio] (see `spotting`).
        self.spotting = SpotTable((data.get("spotting") or {}).get("names"))
        self.ids = {c[0]: i for i, c in enumerate(self.concepts)}

    # -- loading ------------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str | None = None) -> Lexicon:
        """The lexicon at `path` (None: the shipped one), parsed once per process."""
        key = Path(path or DEFAULT_PATH).resolve()
        with _lock:
            if key not in _cache:
                raw = key.read_bytes()
                _cache[key] = cls(json.loads(gzip.decompress(raw)), key, hashlib.sha256(raw).hexdigest())
            return _cache[key]

    # -- lookups ------------------------------------------------------------------------------------------------

    def concept(self, concept_id: str) -> dict[str, Any] | None:
        i = self.ids.get(concept_id)
        if i is None:
            return None
        cid, kind, name, trees, smiles = self.concepts[i]
        return {
            "id": cid,
            "type": kind,
            "name": name,
            "trees": trees,
            "smiles": self.smiles[smiles] if smiles >= 0 else None,
        }

    def trees(self, concept_id: str) -> list[str]:
        i = self.ids.get(concept_id)
        return list(self.concepts[i][3]) if i is not None else []

    def lookup(self, text: str, kind: str, *, fallbacks: bool = True) -> tuple[str, str, str] | None:
        """(concept id, concept name, match kind) for one surface name of one type, or None."""
        table = self.tables.get(kind)
        if table is None:
            return None
        for layer, key_fn, match in (
            ("exact", exact_key, "exact"),
            ("normalized", normalized_key, "normalized"),
            ("sorted", sorted_key, "normalized"),
        ):
            i = table[layer].get(key_fn(text))
            if i is not None:
                # A name BC5CDR leaves unnormalized (-1) stops the cascade: a looser key would only invent an id.
                return self._hit(i, match) if i >= 0 else None
        if not fallbacks:
            return None
        for candidate in self._fallback_names(text, kind):
            i = table["normalized"].get(normalized_key(candidate))
            if i is not None and i >= 0:
                return self._hit(i, "fuzzy")
        return None

    def _fallback_names(self, text: str, kind: str) -> list[str]:
        ws = loose_words(text)
        if kind != "Disease" or not ws or not self.query.get("disease_adjective"):
            return []
        return [
            " ".join([*ws[:-1], ws[-1][: -len(suffix)] + repl])
            for suffix, repl in _ADJECTIVE_SUFFIXES
            if ws[-1].endswith(suffix) and len(ws[-1]) > len(suffix) + 2
        ]

    def _hit(self, i: int, match: str) -> tuple[str, str, str]:
        c = self.concepts[i]
        return c[0], c[2], match

    def smiles_for(self, concept_id_or_name: str) -> str | None:
        """SMILES of a normalized chemical (by "MESH:..." id) or of a drug name, when a source has one."""
        i = self.ids.get(concept_id_or_name)
        if i is not None:
            s = self.concepts[i][4]
            return self.smiles[s] if s >= 0 else None
        s = self.smiles_names.get(exact_key(concept_id_or_name))
        if s is not None:
            return self.smiles[s]
        hit = self.lookup(concept_id_or_name, "Chemical", fallbacks=False)
        if hit is not None:
            s = self.concepts[self.ids[hit[0]]][4]
            return self.smiles[s] if s >= 0 else None
        return None

    # -- documents ----------------------------------------------------------------------------------------------

    def normalize(self, doc_text: str, mentions: Sequence[Mention], *, abbreviations: bool = True) -> list[Mention]:
        """Mentions with concept_id/concept_name/match filled (Gene and unmatched: None)."""
        out: list[Mention] = []
        for m in mentions:
            hit = self.lookup(m.text, m.type) if m.type != "Gene" else None
            if hit is None:
                out.append(replace(m, concept_id=None, concept_name=None, match=None))
            else:
                out.append(replace(m, concept_id=hit[0], concept_name=hit[1], match=hit[2]))
        if abbreviations:
            out = expand(out, doc_text, self._pair)
        return out

    def _pair(self, text: str, kind: str) -> tuple[str, str | None] | None:
        hit = self.lookup(text, kind)
        return (hit[0], hit[1]) if hit is not None else None


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["build"]:  # build [--include-dev]: lexicon_build writes the file and its card
        from workers.literature.lexicon_build import main as build_main

        build_main(sys.argv[2:])
    else:  # evaluate
        from workers.literature.normalize_eval import main

        main()
