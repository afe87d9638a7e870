from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.literature_nlp.conftest import DEV, TRAIN, recorded_sha256s
from workers.literature.documents import from_title_abstract
from workers.literature.normalize import Lexicon
from workers.literature.pubtator import GoldDoc, Mention
from workers.literature.relation_boost import BoostConfig, fit, predict_margin
from workers.literature.relation_features import split_sentences
from workers.literature.relations import DEFAULT_PATH, CidModel, cooccurrence
from workers.literature.relations_eval import baselines, evaluate_model
from workers.literature.relations_train import count_priors, evaluate_end_to_end, fit_logistic

REPO = Path(__file__).resolve().parents[2]
# Measured on BC5CDR development with the training-only evaluation run (see models/cid/README.md), which these tests
# repeat (fixture train_only_cid); floors = measured minus ~0.015. The shipped model is also fit on development
# (pairs, priors), so its own development scores mean nothing and are never tested.
FLOOR_GOLD_F1 = 0.65  # measured 0.6652 (P 0.5964, R 0.7520) at the chosen threshold 0.26
FLOOR_CONCEPT_F1 = 0.89  # the same gold spans, document-level concepts: measured 0.9024
FLOOR_LEXICON_F1 = 0.565  # gold spans + training-only lexicon ids (with MeSH): measured 0.5811


@pytest.fixture(scope="module")
def model() -> CidModel:
    if not DEFAULT_PATH.exists():
        pytest.fail(f"the shipped CID model is missing: {DEFAULT_PATH}")
    return CidModel.load()


def test_model_file_is_plain_json_and_inference_needs_no_torch() -> None:
    spec = json.loads(DEFAULT_PATH.read_text())
    assert spec["format"] == "medsieve-cid" and 0.0 < spec["threshold"] < 1.0
    assert len(spec["logistic"]["weights"]) == len(spec["features"]) and spec["boosted"]["trees"]
    n_context = len(spec["features"]) + len(spec["context"]["features"])  # the second stage reads both
    assert len(spec["context"]["logistic"]["weights"]) == n_context and spec["context"]["boosted"]["trees"]
    code = (
        "import sys, time; t = time.perf_counter(); from workers.literature.relations import CidModel; "
        "CidModel.load(); print(time.perf_counter() - t); from workers.literature.normalize import Lexicon; "
        "Lexicon.load(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) < 1.0  # import + parse in a fresh process: measured ~0.2 s


def test_shipped_model_records_its_data(model: CidModel) -> None:
    assert model.spec["data"]["fit"] == [TRAIN.name, DEV.name]  # the --include-dev fit
    assert model.spec["data"]["threshold_tuned_on"] == DEV.name
    assert model.sha256 == recorded_sha256s(DEFAULT_PATH.parent / "README.md")[-1], "the card records another file"


def test_shipped_model_is_the_include_dev_fit(
    model: CidModel, train_only_cid: tuple[CidModel, dict], dev_docs: list[GoldDoc]
) -> None:
    train_only, report = train_only_cid
    # The threshold is the training-only run's choice on development, not re-tuned on the union.
    assert model.threshold == train_only.threshold == report["threshold"]
    # Priors count development documents: concepts and pairs only development annotates are in them.
    dev_chems = {c for g in dev_docs for c, _ in g.pairs}
    dev_only = dev_chems - set(train_only.priors["chemical"])
    assert dev_only and dev_only <= set(model.priors["chemical"])
    dev_pairs = {f"{c}\t{d}" for g in dev_docs for c, d in g.pairs} - set(train_only.priors["pair"])
    assert dev_pairs and dev_pairs <= set(model.priors["pair"])


def test_finds_a_known_pair_in_a_development_abstract(
    train_only_cid: tuple[CidModel, dict], train_only_lexicon: Lexicon, dev_by_pmid: dict[str, GoldDoc]
) -> None:
    model = train_only_cid[0]
    g = dev_by_pmid["6504332"]  # "Phenobarbital-induced dyskinesia in a neurologically-impaired child."
    assert ("MESH:D010634", "MESH:D004409") in g.pairs
    mentions = train_only_lexicon.normalize(g.document.text, [replace(m, concept_id=None) for m in g.mentions])
    rels = model.predict(g.document, split_sentences(g.document), mentions)
    assert rels and (rels[0].chemical_id, rels[0].disease_id) == ("MESH:D010634", "MESH:D004409")
    top = rels[0]
    assert 0.5 < top.score <= 1.0 and top.chemical_text.lower() == "phenobarbital"
    assert top.evidence is not None and "dyskinesia" in g.document.text[top.evidence[0] : top.evidence[1]]
    # A general concept in the same abstract ("movement disorders") is not reported at the default threshold.
    assert ("MESH:D010634", "MESH:D009069") not in {(r.chemical_id, r.disease_id) for r in rels}
    assert all(r.score >= model.threshold for r in rels)
    assert len(model.predict(g.document, split_sentences(g.document), mentions, threshold=0.0)) >= len(rels)


def test_therapeutic_sentence_scores_lower_than_induced(model: CidModel) -> None:
    def score(title: str) -> float:
        doc = from_title_abstract("1", title, "", "text")
        chem = title.index("haloperidol")
        dis = title.index("catalepsy")
        ms = [
            Mention(chem, chem + 11, "haloperidol", "Chemical", concept_id="MESH:D006220"),
            Mention(dis, dis + 9, "catalepsy", "Disease", concept_id="MESH:D002375"),
        ]
        (rel,) = model.predict(doc, split_sentences(doc), ms, threshold=0.0)
        return rel.score

    assert score("haloperidol-induced catalepsy in rats.") > score("Treatment of catalepsy with haloperidol failed.")


def test_no_pairs_without_both_types(model: CidModel) -> None:
    doc = from_title_abstract("1", "Aspirin alone.", "", "text")
    ms = [Mention(0, 7, "Aspirin", "Chemical", concept_id="MESH:D001241"), Mention(0, 7, "Aspirin", "Gene")]
    assert model.predict(doc, split_sentences(doc), ms) == []
    assert cooccurrence(doc, split_sentences(doc), ms, same_sentence=False) == []


def test_cooccurrence_baselines() -> None:
    doc = from_title_abstract("1", "Cocaine and seizures.", "Heroin was also used. Stroke occurred.", "text")
    t = doc.text

    def m(s: str, kind: str, cid: str) -> Mention:
        i = t.index(s)
        return Mention(i, i + len(s), s, kind, concept_id=cid)

    ms = [m("Cocaine", "Chemical", "C1"), m("seizures", "Disease", "D1"), m("Heroin", "Chemical", "C2"),
          m("Stroke", "Disease", "D2")]  # fmt: skip
    doc_level = {
        (r.chemical_id, r.disease_id) for r in cooccurrence(doc, split_sentences(doc), ms, same_sentence=False)
    }
    sent_level = {
        (r.chemical_id, r.disease_id) for r in cooccurrence(doc, split_sentences(doc), ms, same_sentence=True)
    }
    assert doc_level == {("C1", "D1"), ("C1", "D2"), ("C2", "D1"), ("C2", "D2")}
    assert sent_level == {("C1", "D1")}


def test_logistic_and_boosting_learn() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y_lin = (x[:, 0] - x[:, 1] > 0).astype(float)
    w, _ = fit_logistic(x, y_lin, l2=0.1)
    assert w[0] > 1 and w[1] < -1 and abs(w[2]) < 0.5 * w[0]
    y_xor = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(float)  # not linearly separable: needs the trees
    trees, base = fit(x, y_xor, BoostConfig(rounds=60, depth=2, learning_rate=0.3, seed=1))
    acc = ((predict_margin(trees, base, x) > 0) == (y_xor > 0)).mean()
    assert acc > 0.9
    again, _ = fit(x, y_xor, BoostConfig(rounds=60, depth=2, learning_rate=0.3, seed=1))
    assert again == trees  # deterministic


def test_priors_count_documents(dev_docs: list[GoldDoc]) -> None:
    priors = count_priors(dev_docs[:50])
    for table in priors.values():
        assert all(0 <= pos <= n for pos, n in table.values())
    pairs = sum(len(g.pairs) for g in dev_docs[:50])
    assert sum(pos for pos, _ in priors["pair"].values()) == pairs


def test_development_scores(
    train_only_cid: tuple[CidModel, dict], train_only_lexicon: Lexicon, dev_docs: list[GoldDoc]
) -> None:
    model, report = train_only_cid
    gold_entities = [g.mentions for g in dev_docs]
    r = evaluate_model(model, dev_docs, gold_entities)  # through CidModel.predict, the product's path
    assert r["f1"] >= FLOOR_GOLD_F1, r
    assert {"threshold": model.threshold, **r} == report["gold_entities"]["model"]  # the trainer's figure agrees
    b = baselines(dev_docs, gold_entities)
    assert b["cooccurrence_document"]["recall"] == 1.0
    assert r["f1"] > b["cooccurrence_sentence"]["f1"] + 0.1 > b["cooccurrence_document"]["f1"] + 0.1
    assert report["gold_spans_lexicon_ids"]["model"]["f1"] >= FLOOR_LEXICON_F1, report["gold_spans_lexicon_ids"]
    # The document-context stage earns its place: the model beats its own first stage at that stage's best cut.
    for cond in ("gold_entities", "gold_spans_lexicon_ids"):
        assert report[cond]["model"]["f1"] > report[cond]["first_stage_best"]["f1"], report[cond]


def test_end_to_end_with_gold_spans(
    train_only_cid: tuple[CidModel, dict], train_only_lexicon: Lexicon, dev_path: Path, dev_docs: list[GoldDoc]
) -> None:
    by_id = {g.document.doc_id: g for g in dev_docs}

    def tagger(doc) -> list[Mention]:  # a perfect tagger: gold spans and types, no ids
        return [replace(m, concept_id=None) for m in by_id[doc.doc_id].mentions]

    r = evaluate_end_to_end(dev_path, tagger, lexicon=train_only_lexicon, model=train_only_cid[0])
    assert r["documents"] == 500
    assert r["concepts"]["micro"]["f1"] >= FLOOR_CONCEPT_F1, r
    assert r["cid"]["f1"] >= FLOOR_LEXICON_F1, r
    assert r["cid"] == {
        k: v for k, v in train_only_cid[1]["gold_spans_lexicon_ids"]["model"].items() if k != "threshold"
    }
