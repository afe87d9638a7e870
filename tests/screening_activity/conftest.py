"""Tiny Chemprop v2 models trained here, on CPU, on real molecules with real computed targets.

Molecules: the NCI Open Database sample shipped inside the RDKit wheel (public domain). Targets: Crippen logP
(regression) and "has an aromatic nitrogen" (classification), both computed by RDKit. Members are saved the way
Chemprop's CLI saves them: `chemprop.models.save_model` (.pt with output_columns) and a Lightning .ckpt.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

# The API harness (real app on the real PostgreSQL, a fresh project and token per test) for the registry tests.
from tests.api.conftest import make_api  # noqa: F401

N_TRAIN = 240
N_EVAL = 97  # odd, so batch boundaries fall mid-way


@dataclass(frozen=True)
class Trained:
    logp_a: Path  # .pt, seed 0
    logp_b: Path  # .pt, seed 1
    logp_ckpt: Path  # Lightning .ckpt of a third member (no task names inside)
    arom_n: Path  # .pt, classification
    eval_smiles: list[str]


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch

    # The project's CI and dev machines share 2 cores with other jobs. Measured there: one tiny model trains in
    # ~5 s on 1 thread but 30-40 s on 2 when the cores are busy (OpenMP threads wait on each other).
    torch.set_num_threads(1)


def _nci_smiles() -> list[str]:
    import rdkit
    from rdkit import Chem, rdBase

    path = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"
    if not path.is_file():
        pytest.skip(f"this RDKit build does not ship its NCI sample data at {path}")
    out = []
    with rdBase.BlockLogs():
        for line in path.read_text().splitlines():
            mol = Chem.MolFromSmiles(line.split()[0])
            if mol is not None and 3 <= mol.GetNumHeavyAtoms() <= 60:
                out.append(Chem.MolToSmiles(mol))
            if len(out) >= N_TRAIN + N_EVAL:
                break
    return out


def _has_aromatic_n(mol) -> float:  # type: ignore[no-untyped-def]
    return float(any(a.GetIsAromatic() and a.GetSymbol() == "N" for a in mol.GetAtoms()))


def train_member(smiles: list[str], target: str, seed: int, out: Path, epochs: int = 8) -> object:
    """Trains one small MPNN and saves it like Chemprop's CLI (.pt via save_model, or a Lightning .ckpt)."""
    import numpy as np
    import torch
    from chemprop import data, featurizers, models, nn
    from lightning import pytorch as pl
    from rdkit import Chem
    from rdkit.Chem import Crippen

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    if target == "logp":
        y = np.array([[Crippen.MolLogP(m)] for m in mols])
    else:
        y = np.array([[_has_aromatic_n(m)] for m in mols])
    featurizer = featurizers.SimpleMoleculeMolGraphFeaturizer()
    dataset = data.MoleculeDataset([data.MoleculeDatapoint(m, t) for m, t in zip(mols, y, strict=True)], featurizer)
    torch.manual_seed(seed)
    mp = nn.BondMessagePassing(d_h=48, depth=2)
    if target == "logp":
        scaler = dataset.normalize_targets()
        predictor: nn.Predictor = nn.RegressionFFN(
            input_dim=mp.output_dim, hidden_dim=32, output_transform=nn.UnscaleTransform.from_standard_scaler(scaler)
        )
    else:
        predictor = nn.BinaryClassificationFFN(input_dim=mp.output_dim, hidden_dim=32)
    # Chemprop's CLI defaults (norm aggregation, Noam-like schedule), with a short warm-up and a higher peak so a
    # few epochs on a few hundred molecules learn something real.
    model = models.MPNN(
        mp, nn.NormAggregation(), predictor, batch_norm=True, warmup_epochs=1, init_lr=1e-3, max_lr=5e-3
    )
    loader = data.build_dataloader(dataset, batch_size=16, num_workers=0, seed=seed)
    trainer = pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
    )
    trainer.fit(model, loader)
    if out.suffix == ".ckpt":
        trainer.save_checkpoint(out)
    else:
        models.save_model(out, model, [target])
    return model


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    pytest.importorskip("chemprop")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    smiles = _nci_smiles()
    train, evaluate = smiles[:N_TRAIN], smiles[N_TRAIN:]
    folder = tmp_path_factory.mktemp("chemprop")
    paths = {
        "logp_a": (folder / "logp_a.pt", "logp", 0),
        "logp_b": (folder / "logp_b.pt", "logp", 1),
        "logp_ckpt": (folder / "logp_c.ckpt", "logp", 2),
        "arom_n": (folder / "arom_n.pt", "aromatic_n", 3),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, target, seed in paths.values():
            train_member(train, target, seed, path)
    return Trained(**{key: value[0] for key, value in paths.items()}, eval_smiles=evaluate)
