"""User activity models: Chemprop v2 checkpoints, registered by an operator, run by the screening worker.

Trust model. A Chemprop checkpoint (.pt from `chemprop train`/`save_model`, or a Lightning .ckpt) is a Python
pickle: unpickling it can run arbitrary code with the worker's privileges. So a checkpoint is only ever loaded
when a trusted operator put it there: `medsieve models register-chemprop` (a server-side CLI that needs database
access) validates the files, copies them into the content-addressed artifact store and records their sha256 in
`registered_models`. There is no API upload. A worker resolves a registered model's members by sha256 and checks
the sha256 of the very bytes it is about to unpickle, so a file swapped in the store after registration is refused
before torch ever sees it.

Predictions equal Chemprop's own path (`MPNN.load_from_file` + `lightning.Trainer.predict`): the model in eval
mode applies the checkpoint's output scaler (regression values come back in the training units) and returns
probabilities for classification. Each molecule is featurized once per batch for all ensemble members.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import torch
from chemprop.data import BatchMolGraph
from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
from chemprop.featurizers.atom import get_multi_hot_atom_featurizer
from chemprop.featurizers.bond import MultiHotBondFeaturizer, RIGRBondFeaturizer
from chemprop.models import MPNN
from chemprop.nn import predictors
from chemprop.nn.message_passing import BondMessagePassing
from rdkit import Chem
from sqlalchemy.orm import Session

from core.artifacts import artifact_path
from core.errors import PermanentError
from core.settings import get_settings
from db.models import RegisteredModel
from db.repositories import registry
from workers.plugin import ModelInfo

KIND = "chemprop"
MAX_CHECKPOINT_BYTES = 2 * 1024**3
_CHUNK = 1 << 20

# Molecule-level predictors whose first output column per task is the prediction Chemprop's CLI reports
# (the others are its uncertainty terms). Multiclass and spectral outputs do not fit one value per task.
_TASK_TYPES: dict[type[Any], str] = {
    predictors.RegressionFFN: "regression",
    predictors.MveFFN: "regression-mve",
    predictors.EvidentialFFN: "regression-evidential",
    predictors.QuantileFFN: "regression-quantile",
    predictors.BinaryClassificationFFN: "classification",
    predictors.BinaryDirichletFFN: "classification-dirichlet",
}
# Chemprop's --multi-hot-atom-featurizer-mode values; their input widths all differ, so a model's first layer
# tells which one it was trained with.
_FEATURIZER_MODES = ("V2", "V1", "ORGANIC", "RIGR")


class ActivityModelError(PermanentError):
    """A registered model that cannot be used: not found in the project, missing or altered in the store."""


@dataclass(frozen=True)
class CheckpointInfo:
    tasks: list[str]
    task_type: str
    n_members: int


@dataclass(frozen=True)
class _Member:
    model: MPNN
    label: str
    tasks: list[str]
    task_type: str
    featurizer_mode: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ensemble_sha256(member_sha256s: Sequence[str]) -> str:
    """The ensemble's identity: sha256 of the members' hex digests concatenated in ensemble order."""
    return hashlib.sha256("".join(member_sha256s).encode("ascii")).hexdigest()


def read_checkpoint(path: Path) -> bytes:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{path.name}: {size} bytes is over the {MAX_CHECKPOINT_BYTES}-byte limit for a checkpoint")
    return path.read_bytes()


def inspect_checkpoints(paths: Sequence[Path]) -> CheckpointInfo:
    """Loads each file with Chemprop's own loader and checks the members form one usable ensemble.

    Raises ValueError naming the file and the reason: not a Chemprop v2 checkpoint, a model kind this runtime
    cannot serve (multicomponent, atom/bond-level, extra descriptors, multiclass), or members that disagree on
    tasks, task type or featurization. Unpickles the files: call it only on files an operator trusts.
    """
    return inspect_checkpoint_bytes([read_checkpoint(p) for p in paths], [p.name for p in paths])


def inspect_checkpoint_bytes(blobs: Sequence[bytes], labels: Sequence[str]) -> CheckpointInfo:
    """inspect_checkpoints for bytes already in memory (the CLI hashes, checks and stores the same bytes)."""
    members = _load_members(blobs, labels, torch.device("cpu"))
    return CheckpointInfo(tasks=members[0].tasks, task_type=members[0].task_type, n_members=len(members))


class ActivityEnsemble:
    """One or more Chemprop MPNNs trained on the same tasks; predicts the member mean and the spread."""

    def __init__(self, members: Sequence[_Member], member_sha256: Sequence[str], device: torch.device) -> None:
        self.tasks = list(members[0].tasks)
        self.task_type = members[0].task_type
        self.device = device
        self.member_sha256 = list(member_sha256)
        self.sha256 = ensemble_sha256(self.member_sha256)
        self._models = [m.model.to(device).eval() for m in members]
        self._featurizer = _featurizer(members[0].featurizer_mode)

    @classmethod
    def load(
        cls, paths: Sequence[Path], device: str = "cpu", expected_sha256: Sequence[str] | None = None
    ) -> ActivityEnsemble:
        """Reads each member once, checks its sha256, and only then unpickles those same bytes.

        The expected digests are `expected_sha256` when given; otherwise a file inside the content-addressed
        artifact store (<root>/aa/bb/<sha256>) is held to the digest its path names. A mismatch raises
        ActivityModelError (code MODEL_INTEGRITY) before anything is unpickled.
        """
        if not paths:
            raise ValueError("an ensemble needs at least one checkpoint")
        if expected_sha256 is not None and len(expected_sha256) != len(paths):
            raise ValueError("expected_sha256 must give one digest per path")
        blobs, digests = [], []
        for i, path in enumerate(paths):
            blob = read_checkpoint(path)
            digest = sha256_hex(blob)
            expected = expected_sha256[i] if expected_sha256 is not None else _stored_digest(path)
            if expected is not None and digest != expected:
                raise ActivityModelError(
                    "MODEL_INTEGRITY",
                    f"checkpoint {path.name}: sha256 {digest} does not match the registered {expected}; "
                    "refusing to load it (the stored file was altered or corrupted)",
                )
            blobs.append(blob)
            digests.append(digest)
        target = _torch_device(device)
        return cls(_load_members(blobs, [p.name for p in paths], target), digests, target)

    @property
    def n_members(self) -> int:
        return len(self._models)

    def predict_members(self, mols: Sequence[Chem.Mol], batch_size: int = 512) -> numpy.ndarray:
        """Every member's predictions, float32 [n_members, n_mols, n_tasks], as Chemprop computes them."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = numpy.empty((len(self._models), len(mols), len(self.tasks)), dtype=numpy.float32)
        with torch.inference_mode():
            for start in range(0, len(mols), batch_size):
                batch = mols[start : start + batch_size]
                graphs = []
                for offset, mol in enumerate(batch):
                    if mol is None:
                        raise ValueError(f"molecule {start + offset} is None; parse and sanitize before predicting")
                    graphs.append(self._featurizer(mol))
                bmg = BatchMolGraph(graphs)
                bmg.to(self.device)
                for m, model in enumerate(self._models):
                    y = model(bmg)
                    if y.ndim == 3:  # (prediction, uncertainty terms...) per task: keep the prediction
                        y = y[..., 0]
                    out[m, start : start + len(batch)] = y.float().cpu().numpy()
        return out

    def predict(self, mols: Sequence[Chem.Mol], batch_size: int = 512) -> tuple[numpy.ndarray, numpy.ndarray]:
        """(mean, std) over members, each float64 [n_mols, n_tasks]; std is the population std (0 for one member).
        Regression values are in the training units, classification values are probabilities."""
        per_member = self.predict_members(mols, batch_size).astype(numpy.float64)
        return per_member.mean(axis=0), per_member.std(axis=0)


def resolve_model(
    session: Session,
    project_id: uuid.UUID,
    name: str,
    version: str | None = None,
    *,
    artifact_root: Path | None = None,
) -> tuple[RegisteredModel, list[Path]]:
    """The project's registered model (version None = the latest) and its member files, each verified against
    its registered sha256. Another project's model is reported exactly like a missing one."""
    row = registry.get(session, project_id, name, version)
    if row is None:
        which = f"version {version!r}" if version is not None else "any version"
        raise ActivityModelError(
            "MODEL_NOT_FOUND", f"no activity model {name!r} ({which}) is registered in this project"
        )
    if row.kind != KIND:
        raise ActivityModelError("MODEL_UNSUPPORTED", f"model {name!r} is of kind {row.kind!r}, not {KIND!r}")
    shas = [str(m["sha256"]) for m in row.members]
    if ensemble_sha256(shas) != row.sha256:
        raise ActivityModelError("MODEL_INTEGRITY", f"model {name!r} {row.version}: member list does not match sha256")
    root = artifact_root or get_settings().resolved_artifact_dir
    paths = []
    for member in row.members:
        path = artifact_path(root, str(member["sha256"]))
        if not path.is_file():
            raise ActivityModelError(
                "MODEL_ARTIFACT_MISSING",
                f"model {name!r} {row.version}: checkpoint {member['filename']} ({member['sha256']}) is not in the "
                "artifact store; is MEDSIEVE_ARTIFACT_DIR shared with the host that registered it?",
            )
        digest = _file_sha256(path)
        if digest != member["sha256"]:
            raise ActivityModelError(
                "MODEL_INTEGRITY",
                f"model {name!r} {row.version}: stored checkpoint {member['filename']} has sha256 {digest}, "
                f"registered {member['sha256']}; refusing to load it",
            )
        paths.append(path)
    return row, paths


def registry_resolver(project_id: uuid.UUID, name: str, version: str | None) -> tuple[ModelInfo, list[Path]]:
    """resolve_model in a short unit of work of its own, shaped as the screening pipeline's ModelResolver."""
    from db.session import unit_of_work

    with unit_of_work() as session:
        row, paths = resolve_model(session, project_id, name, version)
        return ModelInfo(row.name, row.version, row.sha256), paths


def _load_members(blobs: Sequence[bytes], labels: Sequence[str], device: torch.device) -> list[_Member]:
    if not blobs:
        raise ValueError("an ensemble needs at least one checkpoint")
    members = [_load_member(blob, label, device) for blob, label in zip(blobs, labels, strict=True)]
    first = members[0]
    for other in members[1:]:
        for what, a, b in (
            ("tasks", first.tasks, other.tasks),
            ("task type", first.task_type, other.task_type),
            ("atom featurizer", first.featurizer_mode, other.featurizer_mode),
        ):
            if a != b:
                raise ValueError(f"ensemble members disagree on {what}: {first.label} has {a}, {other.label} has {b}")
    return members


def _load_member(blob: bytes, label: str, device: torch.device) -> _Member:
    try:
        raw = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"{label}: not a Chemprop checkpoint (torch cannot load it: {_short(exc)})") from exc
    hparams = raw.get("hyper_parameters") if isinstance(raw, dict) else None
    if (
        not isinstance(hparams, dict)
        or "state_dict" not in raw
        or not isinstance(hparams.get("message_passing"), dict)
        or not isinstance(hparams.get("predictor"), dict)
    ):
        raise ValueError(f"{label}: not a Chemprop v2 checkpoint (no MPNN hyper_parameters and state_dict)")
    if "atom_predictor" in hparams or "bond_predictor" in hparams:
        raise ValueError(f"{label}: atom/bond-level (MolAtomBondMPNN) models are not supported; only molecule-level")
    if "blocks" in hparams["message_passing"]:
        n = len(hparams["message_passing"]["blocks"])
        raise ValueError(f"{label}: multicomponent model ({n} inputs per prediction) is not supported; one molecule")
    try:
        model = MPNN.load_from_file(io.BytesIO(blob), map_location=device)
    except Exception as exc:
        raise ValueError(f"{label}: Chemprop could not load this checkpoint: {_short(exc)}") from exc
    model.eval()

    task_type = _TASK_TYPES.get(type(model.predictor))
    if task_type is None:
        supported = ", ".join(sorted(c.__name__ for c in _TASK_TYPES))
        raise ValueError(f"{label}: predictor {type(model.predictor).__name__} is not supported ({supported})")
    mp = model.message_passing
    if getattr(mp, "W_d", None) is not None:
        raise ValueError(f"{label}: the model needs extra atom descriptors (V_d), which screening cannot supply")
    if model.predictor.input_dim != mp.output_dim:
        raise ValueError(
            f"{label}: the model needs extra molecule descriptors (X_d: predictor input {model.predictor.input_dim} "
            f"> learned fingerprint {mp.output_dim}), which screening cannot supply"
        )
    mode = _featurizer_mode(mp, label)
    tasks = _task_names(raw.get("output_columns"), model.n_tasks, label)
    return _Member(model=model, label=label, tasks=tasks, task_type=task_type, featurizer_mode=mode)


def _task_names(columns: Any, n_tasks: int, label: str) -> list[str]:
    if columns is None:  # a Lightning .ckpt carries no names; Chemprop's CLI then writes pred_0, pred_1, ...
        return [f"pred_{i}" for i in range(n_tasks)]
    if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
        raise ValueError(f"{label}: output_columns is not a list of task names")
    if len(columns) != n_tasks:
        raise ValueError(f"{label}: {len(columns)} output_columns for {n_tasks} tasks")
    return list(columns)


def _featurizer(mode: str) -> SimpleMoleculeMolGraphFeaturizer:
    bond = RIGRBondFeaturizer() if mode == "RIGR" else MultiHotBondFeaturizer()
    return SimpleMoleculeMolGraphFeaturizer(atom_featurizer=get_multi_hot_atom_featurizer(mode), bond_featurizer=bond)


def _featurizer_mode(mp: Any, label: str) -> str:
    width = mp.W_i.in_features
    uses_bonds = isinstance(mp, BondMessagePassing)
    seen = []
    for mode in _FEATURIZER_MODES:
        f = _featurizer(mode)
        expected = f.atom_fdim + (f.bond_fdim if uses_bonds else 0)
        if expected == width:
            return mode
        seen.append(f"{mode}={expected}")
    raise ValueError(
        f"{label}: input width {width} matches no Chemprop molecule featurizer ({', '.join(seen)}); "
        "extra atom/bond features and reaction (CGR) models are not supported"
    )


def _stored_digest(path: Path) -> str | None:
    """The digest a content-addressed store path names (<aa>/<bb>/<sha256>), or None for any other path."""
    name = path.name
    is_digest = len(name) == 64 and all(c in "0123456789abcdef" for c in name)
    if is_digest and path.parent.name == name[2:4] and path.parent.parent.name == name[:2]:
        return name
    return None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _torch_device(device: str) -> torch.device:
    return torch.device("cuda" if device == "gpu" else device)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."
