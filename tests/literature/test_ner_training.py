"""The tagger's training pieces: IOB reading and strict scoring, the partial-label loss, and a tiny end-to-end
`medsieve models train-ner` run whose output folder loads in the worker's Tagger."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from workers.literature.iob import LABELS, read_iob, spans, strict_report
from workers.literature.ner import SHIPPED_MODEL
from workers.literature.ner_train import allowed_mask, partial_label_loss

IOB = SHARED_DATA / "ner-iob"


def test_spans_follow_conlleval_rules() -> None:
    tags = ["B-Chemical", "I-Chemical", "O", "I-Disease", "I-Disease", "B-Disease", "I-Chemical"]
    assert spans(tags) == {(0, 2, "Chemical"), (3, 5, "Disease"), (5, 6, "Disease"), (6, 7, "Chemical")}


def test_strict_report_counts_boundaries_and_types_exactly() -> None:
    gold = [["B-Chemical", "I-Chemical", "O", "B-Disease"]]
    pred = [["B-Chemical", "O", "O", "B-Disease"]]  # chemical boundary wrong: one FP and one FN
    report = strict_report(gold, pred, ["Chemical", "Disease"])
    assert report["Chemical"]["tp"] == 0 and report["Chemical"]["fp"] == 1 and report["Chemical"]["fn"] == 1
    assert report["Disease"]["f1"] == 1.0
    assert report["micro"]["precision"] == 0.5 and report["micro"]["recall"] == 0.5


def test_an_o_tag_allows_the_types_its_corpus_did_not_annotate() -> None:
    genes_only = frozenset({"Gene"})
    assert [lab for lab, ok in zip(LABELS, allowed_mask("O", genes_only), strict=True) if ok] == [
        "O",
        "B-Chemical",
        "I-Chemical",
        "B-Disease",
        "I-Disease",
    ]
    assert [lab for lab, ok in zip(LABELS, allowed_mask("B-Gene", genes_only), strict=True) if ok] == ["B-Gene"]


def test_partial_label_loss_is_minus_log_of_the_consistent_probability_mass() -> None:
    torch = pytest.importorskip("torch")
    logits = torch.tensor([[[2.0, 1.0, 0.0, 0.5, -1.0, 3.0, 0.0]]])
    allowed = torch.tensor([[allowed_mask("O", frozenset({"Gene"}))]])
    scored = torch.tensor([[True]])
    probs = logits.softmax(-1)[0, 0]
    expected = -math.log(float(probs[:5].sum()))
    assert float(partial_label_loss(logits, allowed, scored)) == pytest.approx(expected, rel=1e-6)


def _tiny_base(folder: Path) -> Path:
    """A 1-layer BERT with the shipped tokenizer: trains in seconds, exercises the real code path."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.skipif(not IOB.is_dir(), reason=f"IOB corpora not found at {IOB}")
@pytest.mark.skipif(not (SHIPPED_MODEL / "tokenizer.json").exists(), reason="shipped NER model folder missing")
def test_train_ner_command_writes_a_loadable_fp16_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from workers.literature.ner import Tagger

    base = _tiny_base(tmp_path / "base")
    out = tmp_path / "model"
    args = [
        "models",
        "train-ner",
        "--data",
        str(IOB),
        "--out",
        str(out),
        "--base",
        str(base),
        "--limit",
        "120",
        "--epochs",
        "1",
        "--lr",
        "1e-3",
        "--threads",
        "1",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)  # --json: stdout is one JSON document (load reports go to stderr)
    assert set(metrics) == {"BC5CDR-IOB", "NCBI-disease-IOB", "BC2GM-IOB"}
    assert set(metrics["BC5CDR-IOB"]) == {"Chemical", "Disease", "micro"}
    record = json.loads((out / "training.json").read_text())
    assert record["train_sentences"] == 360 and record["labels"] == list(LABELS)
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        keys = fh.keys()  # safe_open is not iterable
        assert {str(fh.get_tensor(k).dtype) for k in keys} == {"torch.float16"}
    assert record["weights_sha256"] in (out / "README.md").read_text()
    tagger = Tagger(out)
    spans_, _ = tagger.tag(["Aspirin induced asthma."], [[(0, 23)]])
    assert all(s.type in ("Chemical", "Disease", "Gene") and 0 <= s.start < s.end <= 23 for s in spans_[0])


@pytest.mark.skipif(not IOB.is_dir(), reason=f"IOB corpora not found at {IOB}")
def test_read_iob_marks_what_each_corpus_annotates() -> None:
    genes = read_iob(IOB / "BC2GM-IOB" / "devel.tsv")
    assert genes[0].annotated == frozenset({"Gene"})
    assert all(t in ("O", "B-Gene", "I-Gene") for s in genes[:200] for t in s.tags)
