"""Fixtures for the literature NLP tests: the BC5CDR files from the shared data folder, training-only builds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_DATA
from workers.literature.lexicon_build import BuildOptions, build
from workers.literature.mesh_source import default_path
from workers.literature.normalize import Lexicon
from workers.literature.normalize_eval import SHIPPED_QUERY
from workers.literature.pubtator import GoldDoc, read_pubtator
from workers.literature.relations import CidModel
from workers.literature.relations_train import train

BC5CDR = SHARED_DATA / "bc5cdr"
TRAIN = BC5CDR / "CDR_TrainingSet.PubTator.txt"
DEV = BC5CDR / "CDR_DevelopmentSet.PubTator.txt"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"BC5CDR not found at {path} (set MEDSIEVE_SHARED_DATA_DIR to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def train_path() -> Path:
    return _need(TRAIN)


@pytest.fixture(scope="session")
def dev_path() -> Path:
    return _need(DEV)


@pytest.fixture(scope="session")
def dev_docs(dev_path: Path) -> list[GoldDoc]:
    return read_pubtator(dev_path)


@pytest.fixture(scope="session")
def dev_by_pmid(dev_docs: list[GoldDoc]) -> dict[str, GoldDoc]:
    return {g.document.doc_id: g for g in dev_docs}


# The development floors test artifacts built here from the training file only (the evaluation builds, the same
# code as the shipped builds minus the development data): the shipped files also hold development names, pairs and
# priors, so testing them on development would pass whatever the code did.


@pytest.fixture(scope="session")
def train_only_lexicon(train_path: Path) -> Lexicon:
    """The lexicon's evaluation build: training annotations + MeSH + MIT dictionaries, shipped options (~15 s)."""
    if not default_path().exists():
        pytest.skip(f"MeSH tables not found at {default_path()} (scripts/setup downloads them)")
    return Lexicon(build(train_path, BuildOptions(query=dict(SHIPPED_QUERY))))


@pytest.fixture(scope="session")
def train_only_cid(train_path: Path, dev_path: Path, train_only_lexicon: Lexicon) -> tuple[CidModel, dict[str, Any]]:
    """The CID evaluation run: fit on training, threshold tuned on development (~45 s); (model, its report)."""
    spec, report = train(train_path.parent, train_only_lexicon)
    return CidModel(spec, train_only_lexicon.trees), report


def recorded_sha256s(card: Path) -> list[str]:
    """The sha256 digests a model card records, in order; the last one is its own file's."""
    found = re.findall(r"sha256 `([0-9a-f]{64})`", card.read_text())
    assert found, f"no sha256 in {card}"
    return found
