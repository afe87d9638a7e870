"""Fixtures for the triage model tests: the shipped model, the shared PneumoniaMNIST file, a scratch model folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NPZ_NAME = "pneumoniamnist/pneumoniamnist_train_val.npz"


@pytest.fixture(scope="session", autouse=True)
def _two_threads() -> None:
    import torch

    # The project's CI and dev machines share 2 cores; more threads only add contention.
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def npz_path() -> Path:
    from core.settings import get_settings

    shared = get_settings().shared_data_dir
    path = (shared if shared.is_absolute() else REPO_ROOT / shared) / NPZ_NAME
    if not path.exists():
        pytest.skip(f"PneumoniaMNIST not found at {path} (set MEDSIEVE_SHARED_DATA_DIR to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def val_split(npz_path: Path) -> tuple[np.ndarray, np.ndarray]:
    from workers.triage.model.evaluate import load_split

    return load_split(npz_path, "val")


@pytest.fixture(scope="session")
def shipped():  # type: ignore[no-untyped-def]
    from workers.triage.model.runtime import load_model

    return load_model()


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    """The shipped model folder copied somewhere it may be damaged."""
    import shutil

    from workers.triage.model.runtime import DEFAULT_MODEL_DIR

    dest = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, dest)
    return dest


@pytest.fixture(scope="session")
def images28() -> list[np.ndarray]:
    """16 real 28x28 val films when the shared data is present, else smooth synthetic ones (invariants hold for any
    input, so these tests need not skip)."""
    from core.settings import get_settings

    shared = get_settings().shared_data_dir
    path = (shared if shared.is_absolute() else REPO_ROOT / shared) / NPZ_NAME
    if path.exists():
        from workers.triage.model.evaluate import load_split

        images, labels = load_split(path, "val")
        pick = np.r_[np.flatnonzero(labels == 0)[:8], np.flatnonzero(labels == 1)[:8]]
        return [images[i] for i in pick]
    import torch
    import torch.nn.functional as F

    # Smooth fields (coarse noise, bilinearly enlarged): resampling them twice changes little, as for real films.
    coarse = torch.from_numpy(np.random.default_rng(0).random((16, 1, 7, 7), dtype=np.float32))
    fine = F.interpolate(coarse * 0.6 + 0.2, size=(28, 28), mode="bilinear", align_corners=False)
    return list(fine[:, 0].numpy())
