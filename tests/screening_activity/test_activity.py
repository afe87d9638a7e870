"""ActivityEnsemble and inspect_checkpoints against Chemprop's own loader and Lightning prediction path."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.screening_activity.conftest import Trained

pytest.importorskip("chemprop")

TOL = 1e-5


def _mols(smiles: list[str]) -> list:  # type: ignore[type-arg]
    from rdkit import Chem

    return [Chem.MolFromSmiles(s) for s in smiles]


def chemprop_predict(path: Path, mols: list, batch_size: int = 50) -> np.ndarray:  # type: ignore[type-arg]
    """Chemprop's own path, as `chemprop predict` runs it: load_model, a MoleculeDataset, Trainer.predict."""
    import torch
    from chemprop import data, featurizers
    from chemprop.models.utils import load_model
    from lightning import pytorch as pl

    model = load_model(path)
    dataset = data.MoleculeDataset(
        [data.MoleculeDatapoint(m) for m in mols], featurizers.SimpleMoleculeMolGraphFeaturizer()
    )
    loader = data.build_dataloader(dataset, batch_size=batch_size, num_workers=0, shuffle=False)
    trainer = pl.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", devices=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = trainer.predict(model, loader)
    return torch.cat(batches).numpy()  # type: ignore[arg-type]


# --- inspect_checkpoints -------------------------------------------------------------------------------------


def test_inspect_regression_ensemble(trained: Trained) -> None:
    from workers.screening.activity import CheckpointInfo, inspect_checkpoints

    assert inspect_checkpoints([trained.logp_a, trained.logp_b]) == CheckpointInfo(["logp"], "regression", 2)


def test_inspect_classification_and_lightning_ckpt(trained: Trained) -> None:
    from workers.screening.activity import CheckpointInfo, inspect_checkpoints

    assert inspect_checkpoints([trained.arom_n]) == CheckpointInfo(["aromatic_n"], "classification", 1)
    # A Lightning .ckpt carries no task names: Chemprop's CLI calls them pred_0, pred_1, ...
    assert inspect_checkpoints([trained.logp_ckpt]) == CheckpointInfo(["pred_0"], "regression", 1)


def test_refuses_files_that_are_not_chemprop_checkpoints(tmp_path: Path) -> None:
    import torch

    from workers.screening.activity import inspect_checkpoints

    text = tmp_path / "notes.pt"
    text.write_text("CCO ethanol\n")
    tensors = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, tensors)
    plain_pickle = tmp_path / "list.pkl"
    plain_pickle.write_bytes(pickle.dumps([1, 2, 3]))
    for path in (text, tensors, plain_pickle):
        with pytest.raises(ValueError, match=rf"{path.name}: not a Chemprop"):
            inspect_checkpoints([path])
    with pytest.raises(ValueError, match="no such file"):
        inspect_checkpoints([tmp_path / "missing.pt"])


def test_refuses_members_that_disagree(trained: Trained) -> None:
    from workers.screening.activity import inspect_checkpoints

    with pytest.raises(ValueError, match=r"disagree on tasks: logp_a.pt has \['logp'\], arom_n.pt has"):
        inspect_checkpoints([trained.logp_a, trained.arom_n])
    with pytest.raises(ValueError, match="disagree on tasks"):
        inspect_checkpoints([trained.logp_a, trained.logp_ckpt])  # named vs unnamed task


def test_refuses_multicomponent_and_multiclass_models(tmp_path: Path) -> None:
    from chemprop import models, nn

    from workers.screening.activity import inspect_checkpoints

    blocks = [nn.BondMessagePassing(d_h=16, depth=2), nn.BondMessagePassing(d_h=16, depth=2)]
    mcmp = nn.MulticomponentMessagePassing(blocks=blocks, n_components=2)
    multi = models.MulticomponentMPNN(
        mcmp, nn.MeanAggregation(), nn.RegressionFFN(input_dim=mcmp.output_dim, hidden_dim=8)
    )
    models.save_model(tmp_path / "multi.pt", multi, ["y"])
    with pytest.raises(ValueError, match=r"multi\.pt: multicomponent model"):
        inspect_checkpoints([tmp_path / "multi.pt"])

    mp = nn.BondMessagePassing(d_h=16, depth=2)
    classes = models.MPNN(mp, nn.MeanAggregation(), nn.MulticlassClassificationFFN(n_classes=3, input_dim=16))
    models.save_model(tmp_path / "classes.pt", classes, ["y"])
    with pytest.raises(ValueError, match="MulticlassClassificationFFN is not supported"):
        inspect_checkpoints([tmp_path / "classes.pt"])


# --- prediction ------------------------------------------------------------------------------------------------


def test_each_member_equals_chemprops_prediction_path(trained: Trained) -> None:
    from workers.screening.activity import ActivityEnsemble

    mols = _mols(trained.eval_smiles)
    for path in (trained.logp_a, trained.logp_b, trained.logp_ckpt, trained.arom_n):
        expected = chemprop_predict(path, mols)
        ensemble = ActivityEnsemble.load([path])
        got = ensemble.predict_members(mols)[0]
        assert got.shape == expected.shape == (len(mols), 1)
        assert np.abs(got - expected).max() <= TOL, path.name
        mean, std = ensemble.predict(mols)
        assert np.abs(mean - expected).max() <= TOL
        assert std.shape == mean.shape and (std == 0).all()  # one member: no spread


def test_regression_is_unscaled_and_classification_is_a_probability(trained: Trained) -> None:
    from rdkit.Chem import Crippen

    from workers.screening.activity import ActivityEnsemble

    mols = _mols(trained.eval_smiles)
    logp = np.array([Crippen.MolLogP(m) for m in mols])
    mean, _ = ActivityEnsemble.load([trained.logp_a, trained.logp_b]).predict(mols)
    # In logP units (the checkpoint's scaler applied), and learned: far better than predicting the mean.
    assert abs(mean[:, 0].mean() - logp.mean()) < 1.0
    assert np.abs(mean[:, 0] - logp).mean() < np.abs(logp - logp.mean()).mean()
    probs, _ = ActivityEnsemble.load([trained.arom_n]).predict(mols)
    assert ((probs >= 0) & (probs <= 1)).all()


def test_ensemble_mean_and_population_std(trained: Trained) -> None:
    from workers.screening.activity import ActivityEnsemble, ensemble_sha256, sha256_hex

    mols = _mols(trained.eval_smiles)
    paths = [trained.logp_a, trained.logp_b]
    refs = np.stack([chemprop_predict(p, mols) for p in paths]).astype(np.float64)
    ensemble = ActivityEnsemble.load(paths)
    assert ensemble.tasks == ["logp"] and ensemble.task_type == "regression" and ensemble.n_members == 2
    assert ensemble.member_sha256 == [sha256_hex(p.read_bytes()) for p in paths]
    assert ensemble.sha256 == ensemble_sha256(ensemble.member_sha256)
    mean, std = ensemble.predict(mols)
    assert np.abs(mean - refs.mean(axis=0)).max() <= TOL
    assert np.abs(std - np.abs(refs[0] - refs[1]) / 2).max() <= TOL  # population std of two values
    assert std.max() > 1e-3  # different seeds really disagree somewhere


def test_batch_boundaries_do_not_change_values(trained: Trained) -> None:
    from workers.screening.activity import ActivityEnsemble

    mols = _mols(trained.eval_smiles)
    ensemble = ActivityEnsemble.load([trained.logp_a, trained.logp_b])
    whole = ensemble.predict_members(mols, batch_size=512)
    for batch_size in (1, 7, 50):
        assert np.abs(ensemble.predict_members(mols, batch_size=batch_size) - whole).max() <= TOL
    assert ensemble.predict_members([], batch_size=7).shape == (2, 0, 1)
    with pytest.raises(ValueError, match="molecule 1 is None"):
        ensemble.predict([mols[0], None])


@pytest.mark.parametrize("predictor", ["MveFFN", "EvidentialFFN", "QuantileFFN", "BinaryDirichletFFN"])
def test_uncertainty_heads_report_chemprops_prediction_column(predictor: str, tmp_path: Path, trained: Trained) -> None:
    """Predictors with extra output columns per task: the prediction is column 0, as in `chemprop predict`."""
    import torch
    from chemprop import models, nn

    from workers.screening.activity import ActivityEnsemble

    torch.manual_seed(0)
    mp = nn.BondMessagePassing(d_h=16, depth=2)
    model = models.MPNN(mp, nn.MeanAggregation(), getattr(nn, predictor)(input_dim=16, hidden_dim=8))
    path = tmp_path / f"{predictor}.pt"
    models.save_model(path, model, ["y"])
    mols = _mols(trained.eval_smiles[:20])
    expected = chemprop_predict(path, mols)[..., 0]
    got = ActivityEnsemble.load([path]).predict_members(mols)[0]
    assert np.abs(got - expected).max() <= TOL


def test_load_checks_the_digest_before_unpickling(tmp_path: Path, trained: Trained) -> None:
    from workers.screening.activity import ActivityEnsemble, ActivityModelError, sha256_hex

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(_WritesMarker(str(marker))))
    with pytest.raises(ActivityModelError, match="does not match the registered") as info:
        ActivityEnsemble.load([evil], expected_sha256=[sha256_hex(trained.logp_a.read_bytes())])
    assert info.value.code == "MODEL_INTEGRITY"
    assert not marker.exists()


class _WritesMarker:
    """A pickle that runs code when loaded: what a hostile checkpoint would be."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (Path(self.path), "unpickled"))
