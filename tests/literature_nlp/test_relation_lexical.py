"""The CID model's sentence-level lexical scorer: the contexts it reads, its pooling, and that it learns."""

from __future__ import annotations

import random

import pytest

from workers.literature.documents import from_title_abstract
from workers.literature.pubtator import Mention
from workers.literature.relation_features import candidates, split_sentences
from workers.literature.relation_lexical import NO_SENTENCE, LexicalScorer, contexts, fit_lexical
from workers.literature.relations import CidModel

TITLE = "Cisplatin-induced nephrotoxicity in rats."
ABSTRACT = "Nephrotoxicity developed after cisplatin and aspirin. Hypertension was treated with captopril."


def _doc():
    doc = from_title_abstract("1", TITLE, ABSTRACT, "test")
    text = doc.text

    def m(word: str, kind: str, cid: str, nth: int = 0) -> Mention:
        start = -1
        for _ in range(nth + 1):
            start = text.index(word, start + 1)
        return Mention(start, start + len(word), word, kind, concept_id=cid)

    mentions = [
        m("Cisplatin", "Chemical", "C1"),
        m("nephrotoxicity", "Disease", "D1"),
        m("Nephrotoxicity", "Disease", "D1"),
        m("cisplatin", "Chemical", "C1"),
        m("aspirin", "Chemical", "C2|C3"),  # a composite id gives a context to each part
        m("Hypertension", "Disease", "D2"),
        m("captopril", "Chemical", "C4"),
    ]
    return doc, mentions


def test_contexts_per_sentence_holding_both() -> None:
    doc, mentions = _doc()
    ctx = contexts(doc.text, split_sentences(doc), mentions)
    assert set(ctx) == {("C1", "D1"), ("C2", "D1"), ("C3", "D1"), ("C4", "D2")}  # never across sentences
    title, body = ctx[("C1", "D1")]
    assert "TITLE" in title and "O:cd" in title and "B:-" in title and "B:induced" in title
    assert "TITLE" not in body and "O:dc" in body
    assert {"B:developed", "B:after", "BB:developed_after", "BO:dc:after"} <= set(body)
    # The closest mention pair gives the context; another mention between is masked by its type.
    aspirin = ctx[("C2", "D1")][0]
    assert "B:xchem" in aspirin and "NB:1" in aspirin and "B:cisplatin" not in aspirin
    assert "B:treated" in ctx[("C4", "D2")][0] and "S:hypertension" in ctx[("C4", "D2")][0]


def test_unnormalized_and_gene_mentions_give_no_context() -> None:
    doc, mentions = _doc()
    mentions = [Mention(x.start, x.end, x.text, x.type) if x.type == "Chemical" else x for x in mentions]
    assert contexts(doc.text, split_sentences(doc), mentions) == {}


def test_scorer_pools_sentence_logits() -> None:
    scorer = LexicalScorer({"weights": {"B:induced": 2.0, "B:treated": -1.5}, "bias": -1.0})
    assert scorer.score(["B:induced", "B:induced", "x"]) == pytest.approx(3.0)  # counts as in training
    f = scorer.features([["B:induced"], ["B:treated"]])
    assert f == {"lex_max": pytest.approx(1.0), "lex_mean": pytest.approx(-0.75), "lex_any": 1.0}
    assert scorer.features(None) == {"lex_max": NO_SENTENCE, "lex_mean": NO_SENTENCE, "lex_any": 0.0}


def test_fit_learns_the_cue_and_drops_rare_tokens() -> None:
    rng = random.Random(0)
    rows = []
    for i in range(400):
        positive = i % 2 == 0
        toks = [rng.choice(["S:rat", "S:patient", "S:dose"]), f"S:once{i}", "B:induced" if positive else "B:treated"]
        if rng.random() < 0.1:  # label noise: the cue is strong, not perfect
            positive = not positive
        rows.append((toks, positive))
    spec = fit_lexical(rows, c=1.0)
    w = spec["weights"]
    assert w["B:induced"] > 1.0 and w["B:treated"] < -1.0 and abs(w.get("S:rat", 0.0)) < 0.5
    assert not any(t.startswith("S:once") for t in w)  # seen once: below min_count
    scorer = LexicalScorer(spec)
    assert scorer.score(["B:induced"]) > 0 > scorer.score(["B:treated"])
    with pytest.raises(ValueError, match="positive and negative"):
        fit_lexical([(["B:x"], True)])


def test_candidates_carry_lexical_features_with_and_without_a_scorer() -> None:
    doc, mentions = _doc()
    sentences = split_sentences(doc)
    plain = candidates(doc, sentences, mentions, {}, lambda _: [])
    assert all(c.features["lex_max"] == 0.0 and c.features["lex_any"] == 0.0 for c in plain)
    scorer = LexicalScorer({"weights": {"B:induced": 3.0, "B:after": 1.0}, "bias": -1.0})
    by_pair = {(c.chemical.cid, c.disease.cid): c.features for c in candidates(doc, sentences, mentions, {},
                                                                               lambda _: [], scorer)}  # fmt: skip
    assert by_pair[("C1", "D1")]["lex_max"] == pytest.approx(2.0)  # title: induced
    assert by_pair[("C1", "D1")]["lex_mean"] == pytest.approx(1.0)  # (2 + 0) / 2
    assert by_pair[("C4", "D1")]["lex_max"] == NO_SENTENCE and by_pair[("C4", "D1")]["lex_any"] == 0.0


def test_shipped_model_holds_a_scorer() -> None:
    model = CidModel.load()
    assert model.lexical is not None and {"lex_max", "lex_mean", "lex_any"} <= set(model.features)
    w = model.lexical.weights
    assert len(w) > 1000 and w["B:induced"] > 0 > w["B:treated"]
