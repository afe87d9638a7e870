"""The per-molecule CPU work of the panel (physchem + graph featurization), in worker processes when allowed.

At ~9 ms per drug-sized molecule, ADMET-AI's physchem columns (QED and the PAINS/BRENK/NIH catalogs) cost as
much CPU as all ten networks on a GPU cost in total many times over, so on a GPU host they set the throughput.
They run here in a pool of processes, and each worker featurizes the same chunk while it has the molecules:
the serving process is left with SMILES parsing, pickling and the GPU.

Processes are started with "spawn": the serving process holds torch, CUDA and a prefetch thread, none of which
survive fork safely; spawned workers import only RDKit and numpy (this module, physchem, featurize).
A Celery prefork child is a daemonic process and multiprocessing refuses to start children from one (billiard
makes multiprocessing.current_process() its own, daemonic, process object), so there the work runs in the
calling process instead, unless the caller allows it (a GPU worker: one prefork child per GPU, where the pool
is the point). Then the daemon flag is lifted only while the pool's processes start; they do not outlive their
parent, since a worker blocked on its call queue exits when the parent's end of the pipe closes.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase

from workers.screening.admet.featurize import GraphArrays, GraphFeaturizer
from workers.screening.admet.physchem import Physchem

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ChunkResult:
    physchem: np.ndarray  # [molecules, physchem columns] float64
    graphs: GraphArrays
    physchem_s: float
    featurize_s: float


class _Worker:
    """What one process needs for its chunks: the alert catalogs and the featurizer tables."""

    def __init__(self, featurizer: GraphFeaturizer) -> None:
        self.featurizer = featurizer
        self.physchem = Physchem()

    def __call__(self, mols: Sequence[Chem.Mol]) -> ChunkResult:
        # RDKit's per-molecule warnings (e.g. QED's RemoveHs on a lone H) would flood a worker log.
        with rdBase.BlockLogs():
            t0 = time.perf_counter()
            physchem = self.physchem(mols)
            t1 = time.perf_counter()
            graphs = self.featurizer(mols)
            t2 = time.perf_counter()
        return ChunkResult(physchem, graphs, t1 - t0, t2 - t1)


_process_worker: _Worker | None = None


def _init_process(featurizer: GraphFeaturizer) -> None:
    global _process_worker
    _process_worker = _Worker(featurizer)


def _run_chunk(blobs: list[bytes]) -> ChunkResult:
    assert _process_worker is not None, "worker process not initialized"
    # Chem.Mol(ToBinary()) keeps everything featurization and the descriptors read (tested to give equal arrays).
    return _process_worker([Chem.Mol(b) for b in blobs])  # type: ignore[call-overload]  # stubs say str; bytes it is


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    process = multiprocessing.current_process()
    was = process._config.get("daemon")  # type: ignore[attr-defined]
    process._config["daemon"] = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        process._config["daemon"] = was  # type: ignore[attr-defined]


def can_start_processes() -> bool:
    return not multiprocessing.current_process().daemon


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CpuStage:
    """Yields ChunkResults for consecutive chunks of the molecules, in order."""

    def __init__(self, featurizer: GraphFeaturizer, workers: int, *, allow_in_daemon: bool = False) -> None:
        self._inline = _Worker(featurizer)
        self.workers = workers if workers > 0 and (can_start_processes() or allow_in_daemon) else 0
        self._executor: ProcessPoolExecutor | None = None
        if self.workers:
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process,
                initargs=(featurizer,),
            )
            # Start every worker now (imports and catalogs take ~1 s each) rather than inside the first request;
            # all processes exist after this, so no later submit starts one (and needs the daemon flag lifted).
            try:
                with _children_allowed():
                    warm = [self._executor.submit(_run_chunk, []) for _ in range(self.workers)]
                for f in warm:
                    f.result()
            except BrokenProcessPool:
                # Typically a script without an `if __name__ == "__main__":` guard, which spawn re-imports.
                logger.warning("could not start %d CPU worker processes; running in-process", self.workers)
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
                self.workers = 0

    def chunks(self, mols: Sequence[Chem.Mol], chunk_size: int, min_pool_molecules: int = 0) -> Iterator[ChunkResult]:
        if self._executor is None or len(mols) < min_pool_molecules:
            for start in range(0, len(mols), chunk_size):
                yield self._inline(mols[start : start + chunk_size])
            return
        # A bounded window of chunks in flight: enough to keep every worker busy while the consumer is behind,
        # without pickling a million-molecule input up front or piling up its results.
        window: deque[Future[ChunkResult]] = deque()
        starts = iter(range(0, len(mols), chunk_size))
        limit = 3 * self.workers
        try:
            for start in starts:
                window.append(
                    self._executor.submit(_run_chunk, [m.ToBinary() for m in mols[start : start + chunk_size]])
                )
                if len(window) >= limit:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for f in window:
                f.cancel()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
