"""`medsieve models ...`: train and evaluate the bundled scoring models. torch is imported inside the commands only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.render import console, fail, print_json

app = typer.Typer(no_args_is_help=True, help="Train and evaluate the bundled scoring models.")


@app.command("train-triage")
def train_triage(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="MedMNIST-format npz (train/val)."),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Model folder to write."),
    seed: int = typer.Option(0, "--seed"),
    epochs: int = typer.Option(25, "--epochs", min=1),
    members: int = typer.Option(5, "--members", min=1),
    width: int = typer.Option(24, "--width", min=4, help="Channels of the first stage."),
    val_mode: str = typer.Option(
        "crossfit", "--val-mode", help="holdout (train only) or crossfit (train + val folds)."
    ),
    threads: int = typer.Option(2, "--threads", min=1),
    max_train: int | None = typer.Option(None, "--max-train", min=2, help="Subsample the train split (smoke runs)."),
    fp16: bool = typer.Option(True, "--fp16/--fp32", help="Weight storage precision."),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Train the chest-radiograph pneumonia ensemble and write a loadable model folder."""
    from pydantic import ValidationError

    from workers.triage.model.train import train

    if val_mode not in ("holdout", "crossfit"):
        fail("--val-mode must be holdout or crossfit")
    log = None if json_out else console.print
    try:
        metrics = train(
            data,
            out,
            log=log,
            seed=seed,
            epochs=epochs,
            members=members,
            width=width,
            val_mode=val_mode,
            threads=threads,
            max_train=max_train,
            fp16=fp16,
        )
    except (ValueError, KeyError, ValidationError) as exc:
        fail(str(exc))
    if json_out:
        print_json(metrics)
        return
    _print_metrics({k: metrics[k] for k in ("val_mode", "val_auc", "val_accuracy", "val_n", "train_seconds")})
    console.print(f"wrote {out} (sha256 {metrics['sha256']}, {metrics['weights_bytes']:,} bytes)")


@app.command("eval-triage")
def eval_triage(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="MedMNIST-format npz."),
    split: str = typer.Option("test", "--split", help="test, val or train."),
    model: Path | None = typer.Option(None, "--model", file_okay=False, help="Model folder (default: shipped)."),
    device: str = typer.Option("cpu", "--device"),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """AUC, accuracy at 0.5 and n of a triage model on one split of an npz."""
    from workers.triage.model.evaluate import SPLITS, evaluate
    from workers.triage.model.manifest import ModelError
    from workers.triage.model.runtime import load_model

    if split not in SPLITS:
        fail(f"--split must be one of {', '.join(SPLITS)}")
    try:
        loaded = load_model(model, device=device)
        metrics = evaluate(loaded, data, split)
    except ModelError as exc:
        fail(f"{exc.code}: {exc.message}")
    except (ValueError, KeyError) as exc:
        fail(str(exc))
    result = {"model": loaded.name, "version": loaded.version, "sha256": loaded.sha256, "split": split, **metrics}
    if json_out:
        print_json(result)
    else:
        _print_metrics(result)


def _print_metrics(values: dict[str, Any]) -> None:
    for key, value in values.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        console.print(f"{key:>14}: {shown}")
