"""The model card (README.md) written next to cid.json."""

from __future__ import annotations

import json
from typing import Any

from workers.literature.relation_features import CUES

_ROWS = (
    ("model", "model at the chosen threshold"),
    ("ensemble_best", "model, best threshold for this condition"),
    ("first_stage_best", "first stage alone (no document context), best threshold"),
    ("logistic_best", "first-stage logistic regression alone, best threshold"),
    ("boosted_best", "first-stage boosted trees alone, best threshold"),
    ("cooccurrence_document", "baseline: every pair in the document"),
    ("cooccurrence_sentence", "baseline: every pair sharing a sentence"),
)


def _table(block: dict[str, Any]) -> list[str]:
    lines = ["| system | threshold | precision | recall | F1 |", "| --- | --- | --- | --- | --- |"]
    for key, label in _ROWS:
        r = block.get(key)
        if r:
            t = r.get("threshold", "-")
            lines.append(f"| {label} | {t} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} |")
    return lines


REPRODUCE_EVALUATION = (
    "python -m workers.literature.relations_train --data ../shared/data/bc5cdr --out /tmp/cid-training-only"
)
REPRODUCE_SHIPPED = (
    "python -m workers.literature.relations_train --data ../shared/data/bc5cdr --out workers/literature/models/cid"
    " --include-dev"
)


def _data(spec: dict[str, Any], report: dict[str, Any]) -> list[str]:
    final = report.get("final")
    if final:
        return [
            "BC5CDR (Li et al. 2016; free for research use). **The shipped model is fit on training + development** "
            f"({final['training']['documents']} abstracts): the same recipe, with folds, priors and lexicon-noise rows "
            f"over the union and ids from the shipped lexicon (its `--include-dev` build, sha256 "
            f"`{final['lexicon_sha256']}`), at the threshold {spec['threshold']} that the training-only evaluation "
            "run chose on development (not re-tuned on data the model was fit on). The test set was never used. No "
            "corpus text ships: the file holds weights, trees and per-concept document counts (priors, now counting "
            "development pairs too).",
            "",
            "- evaluation run (fit on training, threshold tuned and figures measured on development, with the "
            f"training-only lexicon built in memory): `{REPRODUCE_EVALUATION}` (its cid.json: sha256 "
            f"`{final['evaluation_model_sha256']}`)",
            f"- shipped run (runs the evaluation run first, for its threshold and this card's figures): "
            f"`{REPRODUCE_SHIPPED}` (after the lexicon's `--include-dev` build)",
        ]
    return [
        "BC5CDR (Li et al. 2016; free for research use): fit on the training set "
        f"({report['training']['documents']} abstracts), threshold tuned on the development set, with ids from the "
        "training-only lexicon; the test set was never used. No corpus text ships: the file holds weights, trees "
        "and per-concept document counts (priors).",
        "",
        f"- this run: `{REPRODUCE_EVALUATION}`",
        f"- the shipped model, fit on training + development at this run's threshold: `{REPRODUCE_SHIPPED}`",
    ]


def card(spec: dict[str, Any], report: dict[str, Any], sha256: str, size: int | None = None) -> str:
    boosted = spec.get("boosted") or {}
    final = report.get("final")
    rows = final["training"] if final else report["training"]
    figures_head = (
        "These are the figures of the training-only evaluation run (its model at the threshold it chose, which the "
        "shipped model uses). The shipped model's own development figures cannot be measured: development is in it."
        if final
        else "Measured on this model."
    )
    size_text = f"{size} bytes, " if size is not None else ""
    lines = [
        "# CID relation model (chemical-induced disease)",
        "",
        "Scores every (chemical MeSH concept, disease MeSH concept) pair of a document from normalized mentions; "
        "`workers.literature.relations.CidModel`. Inference is numpy only.",
        "",
        "## Data",
        *_data(spec, report),
        "",
        "## Model",
        f"- logistic regression (L2 {spec['logistic']['l2']}) and {len(boosted.get('trees', []))} boosted trees "
        f"(config `{json.dumps(boosted.get('config', {}), sort_keys=True)}`), probability = their mean;",
        f"- training rows of this file: `{json.dumps(rows)}` (5 folds; priors from the other folds; the "
        "'lexicon' rows carry ids from a lexicon built without their fold);",
        *([f"- training rows of the evaluation run: `{json.dumps(report['training'])}`;"] if final else []),
        *(
            [
                f"- sentence-level lexical scorer (`relation_lexical`): logistic regression (C {lex.get('c')}) over "
                f"{len(lex['weights'])} context tokens seen at least {lex.get('min_count')} times in "
                f"{lex.get('rows')} training sentences; its best and mean sentence logit per pair are features "
                "(scorers fit on the other folds for the training rows);"
            ]
            if (lex := spec.get("lexical"))
            else []
        ),
        *(
            [
                f"- second stage (`relation_context`): the same two parts ({len(ctx['boosted']['trees'])} trees) over "
                "the features plus the document context of the first-stage scores (gap to the document's, the "
                "chemical's and the disease's best pair, rank, likely pairs); its probability is the model's. Its "
                "training rows carry out-of-fold first-stage scores;"
            ]
            if (ctx := spec.get("context"))
            else []
        ),
        f"- threshold {spec['threshold']}: best mean F1 over the two development conditions below (evaluation run).",
        "",
        "## Features",
        ", ".join(f"`{f}`" for f in spec["features"]),
        *(["", "Second stage, added: " + ", ".join(f"`{f}`" for f in ctx["features"])] if ctx else []),
        "",
        f"Cue groups: {', '.join(CUES)} (between the closest pair, and anywhere in co-occurring sentences).",
        "",
        "## BC5CDR development, document-level CID",
        "",
        figures_head,
        "",
        "Gold entities (gold spans, gold MeSH ids):",
        "",
        *_table(report["gold_entities"]),
        "",
        "Gold spans normalized by the training-only lexicon. Normalization recall caps CID recall here: only the "
        "pairs whose two concepts the lexicon finds can be found (the document co-occurrence baseline's recall is "
        "that cap). Most missed concepts are drugs the MIT package knows by name but not by MeSH id.",
        "",
        *_table(report["gold_spans_lexicon_ids"]),
        "",
        f"File: `cid.json`, {size_text}sha256 `{sha256}`",
        "",
    ]
    return "\n".join(lines)
