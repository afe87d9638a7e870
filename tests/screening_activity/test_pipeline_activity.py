"""A user activity model inside the screening pipeline: ranked by its ensemble mean, spread reported, every model
in the provenance, and the pipeline's values equal to the ensemble's own prediction on the same molecules."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy
import pytest
from rdkit import Chem

from tests.screening_activity.conftest import Trained
from workers.plugin import Item, JobContext, ModelInfo
from workers.screening.activity import ActivityEnsemble, ensemble_sha256, read_checkpoint, sha256_hex
from workers.screening.params import ScreeningParams
from workers.screening.pipeline import ScreeningPipeline


def test_activity_ranks_and_reports_spread(trained: Trained) -> None:
    members = [trained.logp_a, trained.logp_b]
    info = ModelInfo("logp", "1", ensemble_sha256([sha256_hex(read_checkpoint(p)) for p in members]))
    asked: list[tuple[uuid.UUID, str, str | None]] = []

    def resolver(project: uuid.UUID, name: str, version: str | None) -> tuple[ModelInfo, list[Path]]:
        asked.append((project, name, version))
        return info, members

    project = uuid.uuid4()
    pipeline = ScreeningPipeline(resolver=resolver)
    smiles = trained.eval_smiles[:40]
    params = ScreeningParams.model_validate(
        {
            "admet": False,
            "activity": {"model": "logp", "version": "1"},
            "ranking": {"qed_weight": 0, "alert_penalty": 0},
        }
    )
    context = JobContext(uuid.uuid4(), project, Path("unused"))
    outcome = pipeline.run([Item(i, f"n{i}", {"smiles": s}) for i, s in enumerate(smiles)], params, context)
    assert asked == [(project, "logp", "1")]
    rows = sorted(outcome.results, key=lambda r: r["item_index"])
    assert len(rows) + len(outcome.errors) == len(smiles)

    ensemble = ActivityEnsemble.load(members)
    mean, std = ensemble.predict([Chem.MolFromSmiles(r["canonical_smiles"]) for r in rows])
    assert numpy.allclose([r["activity"] for r in rows], mean[:, 0], atol=1e-9)
    assert numpy.allclose([r["activity_std"] for r in rows], std[:, 0], atol=1e-9)
    assert all(r["score"] == pytest.approx(r["activity"]) for r in rows)  # primary auto -> activity
    assert any(r["activity_std"] > 0 for r in rows)  # two differently seeded members disagree somewhere
    task = ensemble.tasks[0]
    assert all(r["activity_tasks"][task] == [r["activity"], r["activity_std"]] for r in rows)
    # Provenance names both models and combines their digests.
    assert [c.name for c in outcome.components] == ["rdkit-descriptors", "logp"]
    assert outcome.components[1].sha256 == info.sha256 and outcome.model.name == "rdkit-descriptors+logp"


def test_unknown_task_fails_loudly(trained: Trained) -> None:
    members = [trained.logp_a]
    info = ModelInfo("logp", "1", ensemble_sha256([sha256_hex(read_checkpoint(members[0]))]))
    pipeline = ScreeningPipeline(resolver=lambda *_: (info, members))
    params = ScreeningParams.model_validate({"admet": False, "activity": {"model": "logp", "task": "pIC50"}})
    with pytest.raises(ValueError, match="no task 'pIC50'"):
        pipeline.run([Item(0, "a", {"smiles": "CCO"})], params, JobContext(uuid.uuid4(), uuid.uuid4(), Path("x")))
