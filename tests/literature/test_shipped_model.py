"""The default NER model ships in the repo: it loads offline, matches its model card, and tags real text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from workers.literature.ner import SHIPPED_MODEL, model_info

pytestmark = pytest.mark.skipif(
    not (SHIPPED_MODEL / "model.safetensors").exists(), reason="the shipped NER model is missing"
)

BC5CDR_DEV = SHARED_DATA / "bc5cdr" / "CDR_DevelopmentSet.PubTator.txt"
TEXT = (
    "Lithium carbonate toxicity in a newborn infant with atrial flutter and congestive heart failure. "
    "Mutations in BRCA1 were not found."
)


@pytest.fixture(scope="module")
def tagger():
    from workers.literature.ner import Tagger

    return Tagger()


def _found(tagger, text: str) -> set[tuple[str, str]]:
    from workers.literature.text import split_sentences

    spans, _ = tagger.tag([text], [split_sentences(text, 0, len(text))])
    return {(text[s.start : s.end].lower(), s.type) for s in spans[0]}


def test_model_card_names_the_weights_it_ships_with() -> None:
    info = model_info(SHIPPED_MODEL)
    record = json.loads((SHIPPED_MODEL / "training.json").read_text())
    assert record["weights_sha256"] == info.sha256
    assert info.sha256 in (SHIPPED_MODEL / "README.md").read_text()
    assert {label.split("-", 1)[-1] for label in info.labels} == {"O", "Chemical", "Disease", "Gene"}


def test_loads_without_any_hub_access(tmp_path: Path) -> None:
    # A fresh process with the hub switched off and an empty cache: everything must come from the repo folder.
    code = "from workers.literature.ner import Tagger; t = Tagger(); print(t.info.name, len(t.labels))"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ner-minilm", "7"]


def test_tags_chemicals_diseases_and_genes_in_a_known_sentence(tagger) -> None:
    found = _found(tagger, TEXT)
    assert ("lithium carbonate", "Chemical") in found
    assert ("atrial flutter", "Disease") in found
    assert ("congestive heart failure", "Disease") in found
    assert ("brca1", "Gene") in found
    assert not any(word in {"newborn", "infant", "mutations"} for word, _ in found)


@pytest.mark.skipif(not BC5CDR_DEV.exists(), reason=f"BC5CDR development set not found at {BC5CDR_DEV}")
def test_finds_most_gold_mentions_of_a_development_abstract(tagger) -> None:
    from workers.literature.pubtator import read_pubtator

    doc, gold, _ = next(d for d in read_pubtator(BC5CDR_DEV) if d[0].doc_id == "6794356")
    text = doc.text
    from workers.literature.text import split_sentences

    spans, _ = tagger.tag([text], [split_sentences(text, 0, len(text))])
    predicted = {(s.start, s.end, s.type) for s in spans[0]}
    expected = {(m.start, m.end, m.type) for m in gold}
    hits = len(predicted & expected)
    assert hits / len(expected) >= 0.8, (hits, len(expected))
    assert hits / len(predicted) >= 0.8, (hits, len(predicted))
