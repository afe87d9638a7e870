"""The screening pipeline: per-compound preparation, then batched similarity, ADMET panel, activity models, score.

The only entry point of the screening domain that the worker loads (lazily, after fork); models stay resident
for the life of the worker process. Per-job objects (standardizer, filter catalogs, reference fingerprints,
user models) are built on the first shard of a job and cached, since one worker runs many shards of one job.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy
import rdkit
from pydantic import BaseModel
from rdkit import Chem, rdBase

from core.enums import ItemErrorCode
from workers.plugin import BatchOutcome, Item, ItemFailure, JobContext, ModelInfo, combined_model
from workers.screening.params import ScreeningParams
from workers.screening.parsers import as_params, snippet
from workers.screening.prepare import Failure, Prepared, Preparer, qed_alert_catalog
from workers.screening.references import reference_set
from workers.screening.scoring import composite_score

RDKIT_MODEL_NAME = "rdkit-descriptors"
_SOURCES = (
    "prepare.py",
    "scoring.py",
    "references.py",
    "chem/standardize.py",
    "chem/filters.py",
    "chem/similarity.py",
)
_CACHE_SIZE = 4

# (project, name, version) -> (model info, verified local member files); the plug-in supplies a DB-backed one.
ModelResolver = Callable[[uuid.UUID, str, str | None], tuple[ModelInfo, list[Path]]]
_V = TypeVar("_V")


class _Lru(OrderedDict[str, Any]):
    def get_or_make(self, key: str, make: Callable[[], _V]) -> _V:
        if key in self:
            self.move_to_end(key)
            return self[key]  # type: ignore[no-any-return]
        value = make()
        self[key] = value
        while len(self) > _CACHE_SIZE:
            self.popitem(last=False)
        return value


class ScreeningPipeline:
    """Loaded once per worker process; holds models and per-job caches, never results."""

    def __init__(self, device: str = "cpu", resolver: ModelResolver | None = None) -> None:
        here = Path(__file__).parent
        digest = hashlib.sha256(b"".join((here / name).read_bytes() for name in _SOURCES)).hexdigest()
        self.model = ModelInfo(RDKIT_MODEL_NAME, rdkit.__version__, digest)
        self.device = _torch_device(device)
        self.packages = {"rdkit": rdkit.__version__, "numpy": numpy.__version__, "python": platform.python_version()}
        self._resolver = resolver
        self._qed_alerts = qed_alert_catalog()
        self._preparers = _Lru()
        self._references = _Lru()
        self._ensembles = _Lru()
        self._admet: Any = None

    def run(self, items: Sequence[Item], params: BaseModel, context: JobContext | None = None) -> BatchOutcome:
        p = as_params(params)
        timings: dict[str, float] = {}
        components = [self.model]
        t0 = time.perf_counter()
        preparer = self._preparers.get_or_make(_key(p, "standardize", "filters"), lambda: Preparer(p, self._qed_alerts))
        prepared: list[Prepared] = []
        errors: list[ItemFailure] = []
        # One log block per batch: RDKit's per-molecule chatter would flood the worker log; failures are
        # reported as item errors, with RDKit's message captured on the failure path only.
        with rdBase.BlockLogs():
            for item in items:
                try:
                    out: Prepared | Failure = preparer(item)
                except Exception as exc:  # a bad item never fails its batch
                    out = (ItemErrorCode.PROCESSING_ERROR.value, _clip(f"{type(exc).__name__}: {exc}"))
                if isinstance(out, Prepared):
                    prepared.append(out)
                else:
                    errors.append(ItemFailure(item.index, item.key, out[0], out[1]))
            timings["prepare_s"] = time.perf_counter() - t0
            if prepared and p.similarity is not None:
                t = time.perf_counter()
                self._similarity(prepared, p)
                timings["similarity_s"] = time.perf_counter() - t
            if prepared and (p.admet or p.activity is not None):
                # ADMET-AI and Chemprop featurize from SMILES: the molecule re-read from the canonical SMILES is
                # exactly what ADMET-AI's own predict() sees for it (parity is tested on that basis).
                prepared = self._reparse(prepared, errors)
            if prepared and p.admet:
                t = time.perf_counter()
                components.append(self._admet_panel(prepared))
                timings["admet_s"] = time.perf_counter() - t
            if prepared and p.activity is not None:
                t = time.perf_counter()
                components.append(self._activity(prepared, p, context))
                timings["activity_s"] = time.perf_counter() - t
        results = []
        for pr in prepared:
            pr.row["score"] = composite_score(pr.row, p)
            results.append(pr.row)
        timings["compute_s"] = time.perf_counter() - t0
        return BatchOutcome(
            results, errors, combined_model(components), self._device_used(p), dict(self.packages), timings, components
        )

    # ------------------------------------------------------------------------------------------------ stages

    def _similarity(self, prepared: list[Prepared], p: ScreeningParams) -> None:
        refs = self._references.get_or_make(_key(p, "similarity", "standardize"), lambda: reference_set(p))
        fps = [refs.fingerprint(pr.mol) for pr in prepared]
        best, nearest = refs.max_similarity(fps, device=self.device)
        for pr, value, at in zip(prepared, best.tolist(), nearest.tolist(), strict=True):
            pr.row["similarity"] = value
            pr.row["nearest_reference"] = refs.references[at].key[:255]

    def _reparse(self, prepared: list[Prepared], errors: list[ItemFailure]) -> list[Prepared]:
        kept = []
        for pr in prepared:
            mol = Chem.MolFromSmiles(pr.row["canonical_smiles"])
            if mol is None:
                message = "the canonical SMILES of the standardized compound did not parse again"
                errors.append(ItemFailure(pr.row["item_index"], pr.row["item_key"], "PROCESSING_ERROR", message))
                continue
            pr.mol = mol
            kept.append(pr)
        return kept

    def _admet_panel(self, prepared: list[Prepared]) -> ModelInfo:
        if self._admet is None:
            from workers.screening.admet import AdmetPanel

            self._admet = AdmetPanel(device=self.device)
        panel = self._admet
        values = panel.predict([pr.mol for pr in prepared])
        columns = list(panel.columns)
        for pr, row in zip(prepared, values.tolist(), strict=True):
            pr.row["admet"] = {c: (None if v != v else v) for c, v in zip(columns, row, strict=True)}  # NaN -> null
        self.packages["admet-ai"] = panel.model_version
        return ModelInfo(panel.model_name, panel.model_version, panel.model_sha256)

    def _activity(self, prepared: list[Prepared], p: ScreeningParams, context: JobContext | None) -> ModelInfo:
        a = p.activity
        assert a is not None
        if self._resolver is None or context is None:
            raise RuntimeError("activity models need the model registry (no resolver in this pipeline)")
        info, paths = self._resolver(context.project_id, a.model, a.version)
        from workers.screening.activity import ActivityEnsemble

        ensemble = self._ensembles.get_or_make(info.sha256, lambda: ActivityEnsemble.load(paths, device=self.device))
        task = a.task or ensemble.tasks[0]
        if task not in ensemble.tasks:
            raise ValueError(f"model {a.model!r} has no task {task!r}; tasks: {', '.join(ensemble.tasks)}")
        at = ensemble.tasks.index(task)
        mean, std = ensemble.predict([pr.mol for pr in prepared])
        for i, pr in enumerate(prepared):
            pr.row["activity"] = float(mean[i, at])
            pr.row["activity_std"] = float(std[i, at])
            pr.row["activity_tasks"] = {t: [float(mean[i, j]), float(std[i, j])] for j, t in enumerate(ensemble.tasks)}
        return info

    def _device_used(self, p: ScreeningParams) -> str:
        uses_device = p.admet or p.activity is not None or p.similarity is not None
        return self.device if uses_device else "cpu"


def _torch_device(queue_device: str) -> str:
    """A GPU queue runs on CUDA when this host has it; anything else (or a GPU queue on a CPU host) on the CPU."""
    if queue_device in ("gpu", "cuda") or queue_device.startswith("cuda:"):
        import torch

        if torch.cuda.is_available():
            return "cuda" if queue_device == "gpu" else queue_device
    return "cpu"


def _key(p: ScreeningParams, *fields: str) -> str:
    return json.dumps(p.model_dump(mode="json", include=set(fields)), sort_keys=True)


def _clip(message: str) -> str:
    return snippet(message, 300)
