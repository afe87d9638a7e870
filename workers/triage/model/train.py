"""Training of the pneumonia ensemble on a MedMNIST-format npz (pure: files in, files out, no DB or broker)."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from workers.triage.model.augment import AugmentConfig, augment
from workers.triage.model.evaluate import binary_metrics, load_split
from workers.triage.model.net import SmallResNet, build_network
from workers.triage.model.preprocess import normalize

Log = Callable[[str], None]


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    epochs: int = 25
    members: int = 5
    architecture: str = "small_resnet"
    width: int = 24
    blocks: list[int] = Field(default_factory=lambda: [1, 1, 1])
    upsample: int = 1
    dropout: float = 0.2
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    # The shared training split keeps only 388 normal films against 3,494 pneumonia; "sampler" draws each class
    # equally often per epoch so the normal class is not drowned, "loss" reweights it instead.
    balance: Literal["sampler", "loss", "none"] = "sampler"
    ema_decay: float = 0.0  # 0 disables the weight average
    val_mode: Literal["holdout", "crossfit"] = "crossfit"
    max_train: int | None = None  # subsample (tests, smoke runs)
    threads: int = 2
    fp16: bool = True
    tta_hflip: bool = True
    verbose: bool = False  # log val AUC every 5 epochs
    # Priority thresholds, chosen on the (out-of-fold) val scores.
    high_specificity: float = Field(default=0.98, gt=0.0, lt=1.0)
    medium_sensitivity: float = Field(default=0.99, gt=0.0, lt=1.0)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)

    def arch_kwargs(self) -> dict[str, Any]:
        return {"width": self.width, "blocks": list(self.blocks), "upsample": self.upsample, "dropout": self.dropout}


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def _epoch_order(labels: np.ndarray, balance: str, rng: np.random.Generator) -> np.ndarray:
    if balance != "sampler":
        return rng.permutation(len(labels))
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    half = len(labels) // 2
    # Sampling with replacement keeps the epoch length fixed while the rare class repeats under augmentation.
    picks = np.concatenate(
        [rng.choice(pos, half, replace=len(pos) < half), rng.choice(neg, half, replace=len(neg) < half)]
    )
    return rng.permutation(picks)


@torch.no_grad()
def _ema_update(ema: SmallResNet, net: SmallResNet, decay: float) -> None:
    for e, p in zip(ema.state_dict().values(), net.state_dict().values(), strict=True):
        if e.dtype.is_floating_point:
            e.mul_(decay).add_(p, alpha=1.0 - decay)
        else:
            e.copy_(p)


@torch.inference_mode()
def predict_logits(nets: list[SmallResNet], grid: torch.Tensor, mean: float, std: float, hflip: bool) -> np.ndarray:
    """Per-member probabilities (M,N) for an already resized (N,1,h,w) grid in [0,1]."""
    x = normalize(grid, mean, std)
    out = []
    for net in nets:
        net.eval()
        p = torch.cat([torch.sigmoid(net(chunk)) for chunk in x.split(512)])
        if hflip:
            p = 0.5 * (p + torch.cat([torch.sigmoid(net(chunk.flip(-1))) for chunk in x.split(512)]))
        out.append(p.numpy())
    return np.stack(out)


def train_member(
    images: np.ndarray,
    labels: np.ndarray,
    cfg: TrainConfig,
    member_seed: int,
    mean: float,
    std: float,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    log: Log | None = None,
) -> SmallResNet:
    """One ensemble member. `images` float32 (N,h,w) in [0,1] already at the input size."""
    gen = seed_everything(member_seed)
    rng = np.random.default_rng(member_seed)
    net = build_network(cfg.architecture, cfg.arch_kwargs())
    ema = copy.deepcopy(net) if cfg.ema_decay > 0 else None
    x_all = torch.from_numpy(images).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.float32))
    steps_per_epoch = max(1, len(labels) // cfg.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15
    )
    n_pos = float(labels.sum())
    pos_weight = torch.tensor((len(labels) - n_pos) / max(n_pos, 1.0)) if cfg.balance == "loss" else None
    for epoch in range(cfg.epochs):
        net.train()
        order = _epoch_order(labels, cfg.balance, rng)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = torch.from_numpy(order[step * cfg.batch_size : (step + 1) * cfg.batch_size])
            x = normalize(augment(x_all[idx], cfg.augment, gen), mean, std)
            # Symmetric label smoothing: the 28 px labels are noisy and overconfident scores transfer badly.
            y = y_all[idx] * (1.0 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
            loss = F.binary_cross_entropy_with_logits(net(x), y, pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                _ema_update(ema, net, cfg.ema_decay)
            total += float(loss.detach())
        if log is not None and val is not None and (epoch % 5 == 4 or epoch == cfg.epochs - 1):
            probe = ema if ema is not None else net
            p = predict_logits([probe], torch.from_numpy(val[0]).unsqueeze(1), mean, std, cfg.tta_hflip)[0]
            m = binary_metrics(val[1], p)
            log(f"  epoch {epoch + 1}/{cfg.epochs} loss {total / steps_per_epoch:.4f} val auc {m['auc']:.4f}")
    final = ema if ema is not None else net
    final.eval()
    return final


def stratified_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold index per sample, each class spread evenly over the k folds."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        fold[idx] = np.arange(len(idx)) % k
    return fold


def train(npz_path: Path | str, out_dir: Path | str, *, log: Log | None = print, **options: Any) -> dict[str, Any]:
    """Train the ensemble, write model.safetensors, manifest.json and MODEL_CARD.md to `out_dir`; return metrics.

    val_mode "holdout" fits every member on the training split and scores the ensemble on val. "crossfit" gives
    member k the training split plus all val folds but fold k, so every member sees more normal films while each
    val image still gets one score from a member that never saw it; those out-of-fold scores are pooled for the
    reported metrics and the thresholds (a single-member estimate, so conservative for the ensemble).
    """
    from workers.triage.model.export import write_model

    cfg = TrainConfig(**options)
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    x_train, y_train = load_split(npz_path, "train")
    x_val, y_val = load_split(npz_path, "val")
    if cfg.max_train is not None:
        pick = np.random.default_rng(cfg.seed).permutation(len(y_train))[: cfg.max_train]
        x_train, y_train = x_train[pick], y_train[pick]
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ValueError(f"train images {x_train.shape[1:]} and val images {x_val.shape[1:]} differ in size")
    crossfit = cfg.val_mode == "crossfit"
    if crossfit and cfg.members < 2:
        raise ValueError("crossfit needs at least 2 members (one val fold each)")
    fold = stratified_folds(y_val, cfg.members, cfg.seed) if crossfit else np.full(len(y_val), -1)
    pixels = np.concatenate([x_train, x_val]) if crossfit else x_train
    mean, std = float(pixels.mean()), float(pixels.std())
    val_grid = torch.from_numpy(x_val).unsqueeze(1)
    nets: list[SmallResNet] = []
    oof = np.zeros(len(y_val), dtype=np.float32)
    for m in range(cfg.members):
        member_seed = cfg.seed * 1000 + m
        if log is not None:
            log(f"member {m + 1}/{cfg.members} (seed {member_seed}, val_mode {cfg.val_mode})")
        held = fold == m
        x_fit = np.concatenate([x_train, x_val[~held]]) if crossfit else x_train
        y_fit = np.concatenate([y_train, y_val[~held]]) if crossfit else y_train
        probe = (x_val[held], y_val[held]) if crossfit else (x_val, y_val)
        net = train_member(x_fit, y_fit, cfg, member_seed, mean, std, probe if cfg.verbose else None, log)
        nets.append(net)
        if crossfit:
            oof[held] = predict_logits([net], val_grid[torch.from_numpy(held)], mean, std, cfg.tta_hflip)[0]
    if not crossfit:
        oof = predict_logits(nets, val_grid, mean, std, cfg.tta_hflip).mean(axis=0)
    elapsed = time.perf_counter() - started
    data = {
        "file": Path(npz_path).name,
        "train_n": len(y_train),
        "train_pos": int(y_train.sum()),
        "val_n": len(y_val),
        "val_pos": int(y_val.sum()),
    }
    return write_model(Path(out_dir), nets, cfg, mean, std, x_val, y_val, oof, elapsed, data)
