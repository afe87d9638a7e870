"""AdmetPanel: ADMET-AI's `ADMETModel.predict()` columns and numbers, computed for throughput.

What ADMET-AI 2.0.1 computes for a list of molecules, and how this differs in means but not in results:
- physchem: 11 RDKit descriptors per molecule (physchem.py), here in worker processes (cpu_stage.py);
- two Chemprop v2 ensembles (admet_classification: 31 tasks, admet_regression: 10), each the mean of its
  members; ADMET-AI re-featurizes every molecule for each of the 10 checkpoints and runs each through a
  Lightning Trainer at batch size 64; here each molecule is featurized once, by the CPU workers, and all 10
  members run in one stacked pass per batch (ensemble.py);
- a DrugBank-approved percentile per column (scipy percentileofscore, kind="rank"), here vectorized
  (percentiles.py).
Output columns: physchem, then the ensembles' tasks (ensemble folders and checkpoints in sorted order, as
ADMET-AI loads them), then `<column>_drugbank_approved_percentile` for every one of those columns.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from workers.screening.admet.cpu_stage import ChunkResult, CpuStage, can_start_processes, usable_cpus
from workers.screening.admet.ensemble import EnsembleSpec, GraphBatch, StackedEnsembles
from workers.screening.admet.featurize import GraphArrays, GraphFeaturizer
from workers.screening.admet.percentiles import PercentileReference
from workers.screening.admet.physchem import PHYSCHEM_COLUMNS
from workers.screening.admet.prefetch import prefetch as prefetch_iter

MODEL_NAME = "admet-ai"
_CHUNK = 64  # molecules per unit of CPU work: ~0.6 s of physchem, fine-grained enough to balance the workers
_GPU_BATCH = 1024  # ~5 MB of activations per molecule with all 10 members in one pass: ~5 GB per batch
# On a CPU the products are compute-bound once the working set fits in cache: one member at a time over
# 64 molecules (ADMET-AI's own batch size) keeps a hidden state at ~4 MB.
_CPU_BATCH = 64


class AdmetPanel:
    """Loaded once per worker process (after fork), stays resident."""

    model_name: str = MODEL_NAME

    def __init__(
        self,
        device: str = "cpu",
        physchem_workers: int | None = None,
        batch_size: int | None = None,
        *,
        prefetch: bool | None = None,
        members_per_pass: int | None = None,
    ) -> None:
        """
        device: "cpu", "cuda" or "cuda:N".
        physchem_workers: processes for physchem + featurization; None = one per usable CPU but one (on a CPU
            device none in a daemonic process, e.g. a Celery prefork child); 0 = all in this process.
        batch_size: molecules per model pass (rounded up to whole 64-molecule chunks); None = 1024 on a GPU,
            64 on a CPU.
        prefetch: build the next batch in a background thread while the model runs the current one;
            None = on for a GPU.
        members_per_pass: ensemble members stacked in one pass; None = all on a GPU, 1 on a CPU.
        """
        import admet_ai
        from admet_ai.constants import DEFAULT_DRUGBANK_PATH, DEFAULT_MODELS_DIR
        from admet_ai.drugbank import read_drugbank_data
        from admet_ai.physchem import PHYSCHEM_PROPERTY_TO_FUNCTION
        from admet_ai.utils import get_drugbank_suffix
        from chemprop.models.utils import load_output_columns

        if tuple(PHYSCHEM_PROPERTY_TO_FUNCTION) != PHYSCHEM_COLUMNS:
            raise RuntimeError(f"admet_ai {admet_ai.__version__} physchem columns differ from this implementation")
        self.model_version: str = admet_ai.__version__
        self._device = torch.device(device)
        self.device: str = str(self._device)
        on_gpu = self._device.type != "cpu"

        # ADMET-AI's ADMETModel._load_model_ensembles: sorted folders, sorted **/*.pt, tasks of the first file.
        models_dir = Path(DEFAULT_MODELS_DIR)
        specs = []
        for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
            paths = tuple(sorted(folder.glob("**/*.pt")))
            if paths:
                specs.append(EnsembleSpec(folder.name, paths, tuple(load_output_columns(paths[0]))))
        self.tasks: list[str] = [t for s in specs for t in s.tasks]
        value_columns = [*PHYSCHEM_COLUMNS, *self.tasks]
        suffix = get_drugbank_suffix(atc_code=None)
        self.columns: list[str] = value_columns + [f"{c}_{suffix}" for c in value_columns]

        drugbank_path = Path(DEFAULT_DRUGBANK_PATH)
        drugbank = read_drugbank_data(drugbank_path)
        self._reference = PercentileReference(drugbank[value_columns].to_numpy(dtype=np.float64))
        self.model_sha256: str = _digest([p for s in specs for p in s.paths], models_dir, drugbank_path)

        self._model = StackedEnsembles(specs).to(self._device).eval()
        self._members_per_pass = members_per_pass if members_per_pass is not None else (None if on_gpu else 1)
        self.batch_size: int = batch_size if batch_size is not None else (_GPU_BATCH if on_gpu else _CPU_BATCH)
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._chunk = min(_CHUNK, self.batch_size)
        self.prefetch: bool = on_gpu if prefetch is None else prefetch
        # On a GPU the CPU stage sets the pace, and a GPU worker runs one prefork child per GPU, so that child
        # gets the pool even though it is daemonic; a CPU worker's children already fill every core.
        in_daemon_ok = on_gpu
        if physchem_workers is None:
            physchem_workers = max(0, usable_cpus() - 1) if (can_start_processes() or in_daemon_ok) else 0
        self._cpu = CpuStage(GraphFeaturizer(), physchem_workers, allow_in_daemon=in_daemon_ok)
        self.physchem_workers: int = self._cpu.workers
        weakref.finalize(self, self._cpu.close)
        self.last_timings: dict[str, float] = {}

    def close(self) -> None:
        """Stop the worker processes (they also stop when the panel is garbage-collected or at exit)."""
        self._cpu.close()

    def predict(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        """float64 [len(mols), len(columns)], rows in input order."""
        n = len(mols)
        out = np.empty((n, len(self.columns)), dtype=np.float64)
        if n == 0:
            self.last_timings = {}
            return out
        for i, mol in enumerate(mols):
            if mol is None:
                raise ValueError(f"molecule {i} is None (filter unparsable SMILES before predict)")
        t_start = time.perf_counter()
        timings = {"physchem_cpu_s": 0.0, "featurize_cpu_s": 0.0, "model_s": 0.0, "wait_s": 0.0}
        physchem_parts: list[np.ndarray] = []

        def batches() -> Iterator[GraphBatch]:
            pending: list[GraphArrays] = []
            pending_mols = 0
            chunk: ChunkResult
            for chunk in self._cpu.chunks(mols, self._chunk):
                physchem_parts.append(chunk.physchem)
                timings["physchem_cpu_s"] += chunk.physchem_s
                timings["featurize_cpu_s"] += chunk.featurize_s
                pending.append(chunk.graphs)
                pending_mols += chunk.graphs.size
                if pending_mols >= self.batch_size:
                    yield GraphBatch.from_arrays(GraphArrays.concat(pending), self._device, pin=self.prefetch)
                    pending, pending_mols = [], 0
            if pending:
                yield GraphBatch.from_arrays(GraphArrays.concat(pending), self._device, pin=self.prefetch)

        source = prefetch_iter(batches(), depth=2) if self.prefetch else batches()
        preds: list[torch.Tensor] = []
        with torch.inference_mode(), _full_fp32_matmul(), self._model_threads():
            while True:
                t = time.perf_counter()
                g = next(source, None)
                timings["wait_s"] += time.perf_counter() - t
                if g is None:
                    break
                t = time.perf_counter()
                preds.append(torch.cat(self._model(g, self._members_per_pass), dim=1))
                timings["model_s"] += time.perf_counter() - t
            # On a GPU the passes above were only queued; this copy waits for them.
            t = time.perf_counter()
            admet = torch.cat(preds).cpu().numpy()
            timings["model_s"] += time.perf_counter() - t

        n_values = len(PHYSCHEM_COLUMNS) + len(self.tasks)
        out[:, : len(PHYSCHEM_COLUMNS)] = np.concatenate(physchem_parts)
        # ADMET-AI's predictions are float32; widening is exact, and its percentiles see the same float64 values.
        out[:, len(PHYSCHEM_COLUMNS) : n_values] = admet
        t = time.perf_counter()
        out[:, n_values:] = self._reference.percentiles(out[:, :n_values])
        timings["percentiles_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t_start
        self.last_timings = timings
        return out

    @contextlib.contextmanager
    def _model_threads(self) -> Iterator[None]:
        """On a CPU, leave the worker processes their cores: torch's OpenMP threads spin-wait, and sharing cores
        with busy processes slowed the model by up to 3x in our runs. Process-wide, so restored afterwards."""
        previous = torch.get_num_threads()
        if self._device.type == "cpu" and self.physchem_workers:
            torch.set_num_threads(max(1, min(previous, usable_cpus() - self.physchem_workers)))
        try:
            yield
        finally:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def _full_fp32_matmul() -> Iterator[None]:
    """Keep float32 products in full precision even if the process opted into TF32 elsewhere.

    TF32 (10-bit mantissa) moves the regression outputs by far more than 1e-4 (measured in
    tests/screening_admet/test_precision.py), so the panel never uses it; the setting is process-wide, so it is
    restored afterwards.
    """
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _digest(checkpoints: list[Path], models_dir: Path, drugbank: Path) -> str:
    """sha256 over each checkpoint's relative path and bytes (sorted), then the DrugBank reference file."""
    h = hashlib.sha256()
    for path in sorted(checkpoints, key=lambda p: p.relative_to(models_dir).as_posix()):
        h.update(path.relative_to(models_dir).as_posix().encode())
        h.update(path.read_bytes())
    h.update(drugbank.read_bytes())
    return h.hexdigest()
