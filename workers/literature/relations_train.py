"""Train the CID relation model on BC5CDR, tune its threshold on development, evaluate, write the JSON.

Evaluation run (training only; the threshold is tuned and every figure measured on development):
`python -m workers.literature.relations_train --data ../shared/data/bc5cdr --out /tmp/cid-training-only`
Shipped run (the same recipe fit on training + development at the threshold the evaluation run chose; the card keeps
the evaluation run's development figures, which the shipped model can no longer be measured on):
`python -m workers.literature.relations_train --data ../shared/data/bc5cdr --out workers/literature/models/cid
--include-dev` (after the lexicon's `--include-dev` build, which it fits with).

Training rows, per fold (5 folds), come twice: with gold entities (gold spans and ids) and with the same spans
normalized by a lexicon built without that fold (the ids the model will see behind a tagger: ~0.81 concept F1
instead of 1.0). Concept priors for a fold are counted on the other folds only, so a pair's label never informs its
own features; the written priors count every fitted document. Two models are fit on the rows, a logistic regression
(Newton steps) and boosted depth-3 trees, both numpy; the product averages them. The threshold is the one with the
best mean F1 over two development conditions: gold entities, and gold spans with our (training-only) ids.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workers.literature.lexicon_build import BuildOptions, build
from workers.literature.normalize import Lexicon
from workers.literature.normalize_eval import DEV_FILE, SHIPPED_QUERY, TRAIN_FILE
from workers.literature.pubtator import GoldDoc, Mention, id_parts, read_pubtator
from workers.literature.relation_boost import BoostConfig, fit
from workers.literature.relation_context import FEATURES as CONTEXT_FEATURES
from workers.literature.relation_context import context_features
from workers.literature.relation_features import candidates, split_sentences
from workers.literature.relation_lexical import LexicalScorer, fit_lexical
from workers.literature.relation_lexical import training_rows as lexical_rows
from workers.literature.relations import CidModel, Stage
from workers.literature.relations_eval import (
    baselines,
    best_threshold,
    evaluate_end_to_end,
    gold_pairs,
    normalized_entities,
    threshold_curve,
)

__all__ = ["count_priors", "evaluate_end_to_end", "fit_logistic", "fit_model", "main", "train", "train_final"]
FOLDS = 5
L2 = 3.0
TreeNumbers = Callable[[str], Sequence[str]]


def count_priors(gold: Sequence[GoldDoc]) -> dict[str, dict[str, list[int]]]:
    """Per chemical, disease and pair: [documents where in a CID pair, documents where present]."""
    tables: dict[str, Counter[str]] = {k: Counter() for k in ("c_pos", "c_n", "d_pos", "d_n", "p_pos", "p_n")}
    for g in gold:
        chems = {p for m in g.mentions if m.type == "Chemical" for p in id_parts(m.concept_id)}
        diss = {p for m in g.mentions if m.type == "Disease" for p in id_parts(m.concept_id)}
        tables["c_n"].update(chems)
        tables["d_n"].update(diss)
        tables["p_n"].update(f"{c}\t{d}" for c in chems for d in diss)
        tables["c_pos"].update({c for c, _ in g.pairs})
        tables["d_pos"].update({d for _, d in g.pairs})
        tables["p_pos"].update({f"{c}\t{d}" for c, d in g.pairs})
    return {
        kind: {k: [min(tables[f"{p}_pos"][k], n), n] for k, n in sorted(tables[f"{p}_n"].items())}
        for kind, p in (("chemical", "c"), ("disease", "d"), ("pair", "p"))
    }


def pair_matrix(
    features: Sequence[str],
    priors: dict,
    tree_numbers: TreeNumbers,
    docs: Sequence[tuple[GoldDoc, list[Mention]]],
    lexical: LexicalScorer | None = None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str, str]]]:
    """Features, labels and (pmid, chemical, disease) keys of every candidate pair."""
    rows: list[list[float]] = []
    labels: list[float] = []
    keys: list[tuple[str, str, str]] = []
    for g, mentions in docs:
        for c in candidates(g.document, split_sentences(g.document), mentions, priors, tree_numbers, lexical):
            rows.append([c.features.get(f, 0.0) for f in features])
            labels.append(float((c.chemical.cid, c.disease.cid) in g.pairs))
            keys.append((g.document.doc_id, c.chemical.cid, c.disease.cid))
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(features)), np.asarray(labels), keys


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, iters: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularized logistic regression (bias unpenalized) by Newton's method."""
    n, k = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(k + 1)
    reg = np.full(k + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -40, 40)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_lexical_scorer(docs: Sequence[GoldDoc]) -> dict[str, Any]:
    """The sentence scorer's spec, fit on the gold entities of `docs`."""
    return fit_lexical(lexical_rows((g.document, split_sentences(g.document), g.mentions, g.pairs) for g in docs))


def _feature_names(gold: Sequence[GoldDoc], tree_numbers: TreeNumbers) -> list[str]:
    for g in gold:
        cands = candidates(g.document, split_sentences(g.document), g.mentions, {}, tree_numbers)
        if cands:
            return sorted(cands[0].features)
    raise ValueError("no document has both a chemical and a disease")


def training_rows(
    train_docs: Sequence[GoldDoc], features: Sequence[str], tree_numbers: TreeNumbers, noisy: bool
) -> tuple[np.ndarray, np.ndarray, list[tuple[tuple[str, str], str, str]], np.ndarray, dict[str, int]]:
    """(features, labels, keys, fold, counts) of every training row. A key's document is (row set, pmid): the gold
    and the lexicon rows of one abstract are different documents to the context features."""
    xs, ys, folds = [], [], []
    keys: list[tuple[tuple[str, str], str, str]] = []
    counts = Counter[str]()
    for k in range(FOLDS):
        held = [g for i, g in enumerate(train_docs) if i % FOLDS == k]
        rest = [g for i, g in enumerate(train_docs) if i % FOLDS != k]
        priors = count_priors(rest)
        lexical = LexicalScorer(fit_lexical_scorer(rest))
        sets = [("gold", [(g, g.mentions) for g in held])]
        if noisy:
            fold_lexicon = Lexicon(build(rest, BuildOptions(query=dict(SHIPPED_QUERY))))
            sets.append(("lexicon", list(zip(held, normalized_entities(held, fold_lexicon), strict=True))))
        for name, docs in sets:
            x, y, set_keys = pair_matrix(features, priors, tree_numbers, docs, lexical)
            xs.append(x)
            ys.append(y)
            folds.append(np.full(len(y), k))
            keys += [((name, pmid), c, d) for pmid, c, d in set_keys]
            counts[f"{name}_pairs"] += len(y)
            counts[f"{name}_positive"] += int(y.sum())
    return np.vstack(xs), np.concatenate(ys), keys, np.concatenate(folds), dict(counts)


def fit_stage(x: np.ndarray, y: np.ndarray, l2: float, boost: BoostConfig) -> dict[str, Any]:
    """One stage's spec block: a logistic regression on standardized features and boosted trees."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    w, b = fit_logistic((x - mean) / scale, y, l2)
    trees, base = fit(x, y, boost)
    return {
        "logistic": {
            "weights": w.round(6).tolist(),
            "bias": round(b, 6),
            "mean": mean.round(6).tolist(),
            "scale": scale.round(6).tolist(),
            "l2": l2,
        },
        "boosted": {"trees": [_round_tree(t) for t in trees], "base": round(base, 6), "config": vars(boost)},
    }


def fit_context(
    x: np.ndarray, y: np.ndarray, keys: Sequence[tuple[Any, str, str]], fold: np.ndarray, l2: float, boost: BoostConfig
) -> dict[str, Any]:
    """The second stage's block. Its context features come from out-of-fold first-stage scores (a first stage fit
    on the other folds' rows), so they are as noisy in training as they will be at inference."""
    p = np.zeros(len(y))
    for k in np.unique(fold):
        held = fold == k
        p[held] = Stage(fit_stage(x[~held], y[~held], l2, boost), x.shape[1]).probabilities(x[held])
    block = fit_stage(np.hstack([x, context_features(keys, p)]), y, l2, boost)
    return {"features": list(CONTEXT_FEATURES), **block}


def fit_model(
    docs: Sequence[GoldDoc],
    lexicon: Lexicon,
    *,
    l2: float = L2,
    noisy: bool = True,
    boost: BoostConfig | None = None,
    threshold: float = 0.5,
    context: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model spec, training-row counts): both stages fit on `docs`, priors counted on all of them."""
    features = _feature_names(docs, lexicon.trees)
    x, y, keys, fold, counts = training_rows(docs, features, lexicon.trees, noisy)
    boost = boost or BoostConfig()
    spec: dict[str, Any] = {
        "format": "medsieve-cid",
        "version": 2 if context else 1,
        "features": list(features),
        **fit_stage(x, y, l2, boost),
        "threshold": threshold,
        "priors": count_priors(docs),
        "lexical": fit_lexical_scorer(docs),
    }
    if context:
        spec["context"] = fit_context(x, y, keys, fold, l2, boost)
    return spec, {**counts, "documents": len(docs), "l2": l2, "noisy_rows": noisy, "context": context}


def tune_and_evaluate(spec: dict[str, Any], dev_docs: Sequence[GoldDoc], lexicon: Lexicon) -> dict[str, Any]:
    """Set spec["threshold"] to the cut with the best mean F1 over the two development conditions (gold entities;
    gold spans with our ids) and report every development figure. The scores are those `CidModel.predict` gives,
    computed on one matrix per condition."""
    features = spec["features"]
    first = {**spec, "context": None}
    variants = {
        "ensemble": CidModel(spec, lexicon.trees),
        "first_stage": CidModel(first, lexicon.trees),
        "logistic": CidModel({**first, "boosted": None}, lexicon.trees),
        "boosted": CidModel({**first, "logistic": None}, lexicon.trees),
    }
    conditions = {
        "gold_entities": [g.mentions for g in dev_docs],
        "gold_spans_lexicon_ids": normalized_entities(dev_docs, lexicon),
    }
    truth = gold_pairs(dev_docs)
    lexical = variants["ensemble"].lexical  # parsed once, by the model
    curves: dict[str, dict[str, Any]] = {}
    for cond, entities in conditions.items():
        docs = list(zip(dev_docs, entities, strict=True))
        xd, _, keys = pair_matrix(features, spec["priors"], lexicon.trees, docs, lexical)
        curves[cond] = {v: threshold_curve(m.probabilities(xd, keys), keys, truth) for v, m in variants.items()}
    threshold = best_threshold([curves[c]["ensemble"] for c in conditions])
    spec["threshold"] = threshold
    report: dict[str, Any] = {"threshold": threshold}
    for cond, entities in conditions.items():
        report[cond] = {
            "model": {"threshold": threshold, **curves[cond]["ensemble"][threshold].as_dict()},
            **{f"{v}_best": _best(curves[cond][v]) for v in variants},
            **baselines(dev_docs, entities),
        }
    return report


def training_only_lexicon(data_dir: Path) -> Lexicon:
    """The lexicon of the evaluation build (training annotations only, shipped options), in memory."""
    return Lexicon(build(data_dir / TRAIN_FILE, BuildOptions(query=dict(SHIPPED_QUERY))))


def train(
    data_dir: Path,
    lexicon: Lexicon | None = None,
    *,
    l2: float = L2,
    noisy: bool = True,
    boost: BoostConfig | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The evaluation run: fit on training, tune the threshold on development, report every development figure.
    `lexicon` None: the training-only lexicon (a lexicon holding development names would inflate the figures)."""
    lexicon = lexicon or training_only_lexicon(data_dir)
    spec, counts = fit_model(read_pubtator(data_dir / TRAIN_FILE), lexicon, l2=l2, noisy=noisy, boost=boost)
    report = tune_and_evaluate(spec, read_pubtator(data_dir / DEV_FILE), lexicon)
    spec["data"] = {"fit": [TRAIN_FILE], "threshold_tuned_on": DEV_FILE}
    return spec, {"training": counts, **report}


def train_final(
    data_dir: Path,
    lexicon: Lexicon,
    threshold: float,
    *,
    l2: float = L2,
    noisy: bool = True,
    boost: BoostConfig | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shipped run: the same recipe fit on training + development (folds, priors and noisy rows over the union)
    with the threshold the evaluation run chose; nothing is tuned on data the model was fit on."""
    docs = [*read_pubtator(data_dir / TRAIN_FILE), *read_pubtator(data_dir / DEV_FILE)]
    spec, counts = fit_model(docs, lexicon, l2=l2, noisy=noisy, boost=boost, threshold=threshold)
    spec["data"] = {
        "fit": [TRAIN_FILE, DEV_FILE],
        "threshold_tuned_on": DEV_FILE,
        "threshold_from": "training-only fit",
    }
    return spec, counts


def _best(curve: dict[float, Any]) -> dict[str, Any]:
    t = max(curve, key=lambda k: curve[k].f1)
    return {"threshold": t, **curve[t].as_dict()}


def _round_tree(tree: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: [round(v, 6) for v in vs] if k in ("threshold", "value") else vs for k, vs in tree.items()}


def encode(spec: dict[str, Any]) -> bytes:
    """cid.json's bytes: the same spec always gives the same file (and sha256)."""
    return (json.dumps(spec, separators=(",", ":"), sort_keys=True) + "\n").encode()


def write_model(spec: dict[str, Any], report: dict[str, Any], out_dir: Path) -> Path:
    from workers.literature.relations_card import card

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "cid.json"
    path.write_bytes(encode(spec))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (out_dir / "README.md").write_text(card(spec, report, digest, path.stat().st_size))
    return path


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m workers.literature.relations_train")
    ap.add_argument("--data", type=Path, required=True, help="folder with the BC5CDR PubTator files")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "models" / "cid")
    ap.add_argument(
        "--include-dev",
        action="store_true",
        help="write the model fit on training + development, at the threshold the training-only run (same command, "
        "run first) chose on development; the card keeps that run's development figures",
    )
    ap.add_argument(
        "--lexicon",
        type=Path,
        default=None,
        help="with --include-dev: the lexicon of the final fit (default: the shipped one, which must be its "
        "--include-dev build). Without: the lexicon of the training-only run (default: built from training in memory)",
    )
    ap.add_argument("--l2", type=float, default=L2)
    ap.add_argument("--gold-only", action="store_true", help="train on gold entities only (no lexicon-noise rows)")
    args = ap.parse_args(argv)
    t0 = time.time()
    noisy = not args.gold_only
    if not args.include_dev:
        lexicon = Lexicon.load(args.lexicon) if args.lexicon else None
        spec, report = train(args.data, lexicon, l2=args.l2, noisy=noisy)
    else:
        final_lexicon = Lexicon.load(args.lexicon)
        if "bc5cdr_development" not in final_lexicon.data.get("sources", {}):
            ap.error(f"{final_lexicon.path} holds no development names: build it with --include-dev first")
        evaluation_spec, report = train(args.data, l2=args.l2, noisy=noisy)
        spec, counts = train_final(args.data, final_lexicon, evaluation_spec["threshold"], l2=args.l2, noisy=noisy)
        report["final"] = {
            "training": counts,
            "lexicon_sha256": final_lexicon.sha256,
            "evaluation_model_sha256": hashlib.sha256(encode(evaluation_spec)).hexdigest(),
        }
    report["seconds"] = round(time.time() - t0, 1)
    write_model(spec, report, args.out)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
