"""Writing a trained ensemble as a model folder: model.safetensors, manifest.json, MODEL_CARD.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workers.triage.model.evaluate import (
    binary_metrics,
    operating_point,
    threshold_for_sensitivity,
    threshold_for_specificity,
)
from workers.triage.model.manifest import (
    Architecture,
    ModelManifest,
    Normalization,
    Thresholds,
    weights_sha256,
    write_manifest,
)
from workers.triage.model.net import SmallResNet

if TYPE_CHECKING:
    from workers.triage.model.train import TrainConfig

WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "MODEL_CARD.md"
MODEL_NAME = "pneumonia-v1"
MODEL_VERSION = "1.0.0"
RESOLUTION_LIMITS = (
    "Trained on 28x28 px images (MedMNIST PneumoniaMNIST). Any input is centre-cropped to a square and downsampled "
    "to 28x28 with antialiasing, so findings smaller than ~1/28 of the film width (about 1 cm on a pediatric chest "
    "film) are invisible to the model; it sees global opacity patterns only."
)


def ensemble_state(nets: list[SmallResNet], fp16: bool) -> dict[str, torch.Tensor]:
    tensors = {}
    for i, net in enumerate(nets):
        for key, value in net.state_dict().items():
            value = value.detach().cpu()
            if fp16 and value.is_floating_point():
                value = value.half()
            tensors[f"member{i}.{key}"] = value.contiguous()
    return tensors


def choose_thresholds(labels: np.ndarray, scores: np.ndarray, cfg: TrainConfig) -> Thresholds:
    """high: the lowest score with the target specificity; medium: the highest with the target sensitivity.

    The defaults (98% specificity, 99% sensitivity) are stricter than the usual 95% / 90% because val is nearly
    separable: at 95% specificity this model already reaches ~99% sensitivity, so a 90%-sensitivity "medium" would
    sit above "high". Should the targets still cross on some data, medium is capped at high (an empty band, never
    an inverted one).
    """
    high = threshold_for_specificity(labels, scores, cfg.high_specificity)
    medium = min(threshold_for_sensitivity(labels, scores, cfg.medium_sensitivity), high)
    # Unrounded: the thresholds sit one float64 step above a val score, and JSON round-trips floats exactly.
    return Thresholds(high=high, medium=medium)


def write_model(
    out_dir: Path,
    nets: list[SmallResNet],
    cfg: TrainConfig,
    mean: float,
    std: float,
    x_val: np.ndarray,
    y_val: np.ndarray,
    val_scores: np.ndarray,
    train_seconds: float,
    data: dict[str, Any],
) -> dict[str, Any]:
    from safetensors.torch import save_file

    from workers.triage.model.runtime import load_model

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(ensemble_state(nets, cfg.fp16), str(out_dir / WEIGHTS_NAME), metadata={"format": "pt"})
    sha = weights_sha256(out_dir, [WEIGHTS_NAME])
    thresholds = choose_thresholds(y_val, val_scores, cfg)
    val = binary_metrics(y_val, val_scores)
    metrics: dict[str, Any] = {
        "val_mode": cfg.val_mode,
        "val_auc": round(val["auc"], 5),
        "val_accuracy": round(val["accuracy"], 5),
        "val_n": val["n"],
        "operating_points": {
            level: {k: round(v, 4) for k, v in operating_point(y_val, val_scores, t).items()}
            for level, t in (("high", thresholds.high), ("medium", thresholds.medium), ("p0.5", 0.5))
        },
        "train_seconds": round(train_seconds, 1),
        "sha256": sha,
        "weights_bytes": (out_dir / WEIGHTS_NAME).stat().st_size,
    }
    manifest = ModelManifest(
        name=MODEL_NAME,
        version=MODEL_VERSION,
        format="safetensors",
        weights=[WEIGHTS_NAME],
        sha256=sha,
        weights_dtype="float16" if cfg.fp16 else "float32",
        architecture=Architecture(name=cfg.architecture, kwargs=cfg.arch_kwargs()),
        members=len(nets),
        modality=["CR", "DX"],
        body_part=["CHEST"],
        input_size=(int(x_val.shape[1]), int(x_val.shape[2])),
        normalization=Normalization(mean=round(mean, 6), std=round(std, 6)),
        labels=["normal", "pneumonia"],
        positive_label="pneumonia",
        thresholds=thresholds,
        tta_hflip=cfg.tta_hflip,
        resolution_limits=RESOLUTION_LIMITS,
        training={"data": data, "recipe": cfg.model_dump(mode="json"), "metrics": metrics},
    )
    write_manifest(out_dir, manifest)
    # Score val once more through the runtime, i.e. through the stored (possibly fp16) weights.
    shipped = load_model(out_dir).predict(list(x_val))
    if cfg.val_mode == "holdout":
        metrics["storage_max_abs_diff"] = float(np.abs(shipped - val_scores).max())
    metrics["val_auc_in_sample"] = round(binary_metrics(y_val, shipped)["auc"], 5)
    (out_dir / CARD_NAME).write_text(model_card(manifest, metrics), encoding="utf-8")
    return metrics


def model_card(manifest: ModelManifest, metrics: dict[str, Any]) -> str:
    recipe = manifest.training["recipe"]
    data = manifest.training["data"]
    ops = metrics["operating_points"]
    crossfit = metrics["val_mode"] == "crossfit"
    how = (
        "out-of-fold: each val image scored by the one member that did not train on it (a single-member estimate; "
        f"the {manifest.members}-member ensemble is expected to do at least as well)"
        if crossfit
        else "ensemble trained on the train split only, val untouched"
    )
    in_sample = ""
    if crossfit and "val_auc_in_sample" in metrics:
        in_sample = (
            f" The shipped ensemble itself scores AUC {metrics['val_auc_in_sample']:.4f} on the whole val split "
            f"(`eval-triage --split val`), an optimistic figure: each member trained on {manifest.members - 1} of the "
            f"{manifest.members} val folds."
        )
    rows = "\n".join(
        f"| {level} | {op['threshold']:.4f} | {op['sensitivity']:.3f} | {op['specificity']:.3f} "
        f"| {op['accuracy']:.3f} |"
        for level, op in ops.items()
    )
    return f"""# {manifest.name} {manifest.version}: pediatric chest radiograph pneumonia score

> **Not for clinical use.** Research and engineering demonstrator only. It has not been validated for diagnosis,
> has no regulatory clearance, and must never decide, delay or replace a clinician's reading of a film.

## What it does
Ensemble of {manifest.members} small CNNs (`{manifest.architecture.name if manifest.architecture else "?"}`,
{json.dumps(manifest.architecture.kwargs if manifest.architecture else {})}) that scores a frontal chest
radiograph for pneumonia: probability of label `{manifest.positive_label}` (labels: {manifest.labels}).
Used by the `triage` domain to order a worklist: scores >= `high` ({manifest.thresholds.high:.4f}) are high
priority, >= `medium` ({manifest.thresholds.medium:.4f}) medium, the rest low; flagged films get a Grad-CAM heatmap.

Intended use: prioritising a research worklist of pediatric frontal CXR (modalities {manifest.modality}, body part
{manifest.body_part}), images supplied as MONOCHROME2 pixels scaled to [0,1]. Not for adults, lateral views,
other findings, or any decision about a patient.

## Data
PneumoniaMNIST from MedMNIST v2 (Yang et al., Scientific Data 2023), licence CC BY 4.0, derived from the pediatric
chest X-ray set of Kermany et al., Cell 2018 (Guangzhou Women and Children's Medical Center, ages 1-5). File used:
`{data["file"]}`: train split {data["train_n"]:,} images ({data["train_pos"]:,} pneumonia,
{data["train_n"] - data["train_pos"]:,} normal; the shared copy keeps few normals, so training balances the classes),
val {data["val_n"]:,} ({data["val_pos"]:,} / {data["val_n"] - data["val_pos"]:,}). The MedMNIST test split was held back
and never used.

## Recipe
seed {recipe["seed"]}; {recipe["epochs"]} epochs per member, AdamW (lr {recipe["lr"]}, weight decay
{recipe["weight_decay"]}), one-cycle schedule, batch {recipe["batch_size"]}, class-balanced sampling
(`{recipe["balance"]}`), label smoothing {recipe["label_smoothing"]}, augmentation {json.dumps(recipe["augment"])};
test-time horizontal flip: {manifest.tta_hflip}; weights stored as {manifest.weights_dtype}.
Validation mode `{recipe["val_mode"]}`: {how}.
Full recipe: `manifest.json` -> `training.recipe`.

## Validation metrics (PneumoniaMNIST val, n={metrics["val_n"]})
AUC **{metrics["val_auc"]:.4f}**, accuracy at 0.5: {metrics["val_accuracy"]:.4f}.{in_sample}

| operating point | threshold | sensitivity | specificity | accuracy |
|---|---|---|---|---|
{rows}

`high` = lowest threshold with specificity >= {recipe["high_specificity"]:.0%} on val; `medium` = highest threshold
with sensitivity >= {recipe["medium_sensitivity"]:.0%} on val (capped at `high`). The MedMNIST test split is known to
be shifted against val (the source data set's separate test patients: published 28 px CNNs reach 0.94-0.97 AUC there
against ~0.99 on val, mostly by scoring normal films higher), so expect lower specificity at these thresholds on new
data and re-derive them on local data before any use.

## Resolution limits
{manifest.resolution_limits}

## Integrity
`model.safetensors` sha256 `{manifest.sha256}` ({metrics["weights_bytes"]:,} bytes); `load_model()` refuses weights
whose sha256 differs from `manifest.json`. Training took {metrics["train_seconds"]:.0f} s on 2 CPU threads.

## Reproduce
`medsieve models train-triage --data pneumoniamnist_train_val.npz --out DIR --seed {recipe["seed"]}
--epochs {recipe["epochs"]} --members {manifest.members} --width {recipe["width"]} --val-mode {recipe["val_mode"]}
--threads {recipe["threads"]}`
(same seed and thread count give the same weights on the same CPU and torch build).
"""
