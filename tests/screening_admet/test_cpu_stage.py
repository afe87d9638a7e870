"""Worker-process fallback: a daemonic process (a Celery prefork child) runs the CPU work in-process."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from tests.screening_admet.conftest import mols_of
from workers.screening.admet.cpu_stage import CpuStage, can_start_processes
from workers.screening.admet.featurize import GraphFeaturizer
from workers.screening.admet.physchem import Physchem


def test_daemonic_process_falls_back_to_in_process(monkeypatch: pytest.MonkeyPatch, sample_smiles: list[str]) -> None:
    # What billiard makes multiprocessing.current_process() look like inside a prefork child.
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)  # type: ignore[attr-defined]
    assert not can_start_processes()
    stage = CpuStage(GraphFeaturizer(), workers=4)
    assert stage.workers == 0
    mols = mols_of(sample_smiles[:10])
    chunks = list(stage.chunks(mols, chunk_size=4))
    assert [c.graphs.size for c in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([c.physchem for c in chunks]), Physchem()(mols))


def test_gpu_worker_child_gets_its_pool_even_when_daemonic(
    monkeypatch: pytest.MonkeyPatch, sample_smiles: list[str]
) -> None:
    """A GPU worker's single prefork child is daemonic too; there the pool is the point, so it may start one."""
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)  # type: ignore[attr-defined]
    stage = CpuStage(GraphFeaturizer(), workers=1, allow_in_daemon=True)
    try:
        assert stage.workers == 1
        assert multiprocessing.current_process().daemon  # the flag is lifted only while the pool starts
        mols = mols_of(sample_smiles[:10])
        chunks = list(stage.chunks(mols, chunk_size=4))
        np.testing.assert_array_equal(np.concatenate([c.physchem for c in chunks]), Physchem()(mols))
    finally:
        stage.close()
