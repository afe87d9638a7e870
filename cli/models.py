"""`medsieve models ...`: train and evaluate the bundled scoring models; register users' activity models.

torch and chemprop are imported inside the commands only. Registering a Chemprop checkpoint is an operator's act
on a host with database access, because a checkpoint is a pickle (see `register-chemprop`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.render import EXIT_AUTH, console, fail, print_json, rows_table

app = typer.Typer(
    no_args_is_help=True,
    help="Train and evaluate the bundled scoring models; register trusted activity models (operators only).",
)


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


# --- user activity models (Chemprop) ----------------------------------------------------------------------------

_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_VERSION_RE = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,49}$"


@app.command("register-chemprop")
def register_chemprop(
    checkpoints: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="Chemprop v2 checkpoints (.pt or .ckpt): the members."
    ),
    project: str = typer.Option(..., "--project", help="Project name or id (must exist)."),
    name: str = typer.Option(..., "--name", help="Model name jobs refer to (letters, digits, . _ -)."),
    version: str = typer.Option(..., "--version", help="Version label, unique per name within the project."),
    description: str | None = typer.Option(None, "--description", help="Free text shown to the project's users."),
    by: str | None = typer.Option(None, "--by", help="Operator recorded as registered_by (default: the OS user)."),
    json_out: bool = typer.Option(False, "--json", help="Print the registered model as JSON."),
) -> None:
    """Register Chemprop checkpoints as a project's activity model.

    Several checkpoints form one ensemble (mean and spread of the members).

    TRUSTED OPERATORS ONLY. A Chemprop checkpoint is a Python pickle:
    loading it runs whatever code it carries, here and in every screening
    worker that uses the model. Register only files whose origin you trust.
    That is why registration is this server-side command, which needs
    database access, and never an API upload.

    The files are validated with Chemprop's own loader, copied into the
    content-addressed artifact store (MEDSIEVE_ARTIFACT_DIR, shared with the
    workers) and pinned by sha256; workers check those digests before
    loading. Prints the model's sha256 (over the members' digests, in order).
    """
    import getpass
    import re

    from sqlalchemy.exc import IntegrityError

    from core.artifacts import store_chunks
    from core.enums import AuditAction
    from core.settings import get_settings
    from db.models import RegisteredModel
    from db.repositories import audit, registry
    from db.repositories.jobs import ensure_artifact
    from db.session import unit_of_work
    from workers.screening.activity import (
        KIND,
        MAX_CHECKPOINT_BYTES,
        ensemble_sha256,
        inspect_checkpoint_bytes,
        read_checkpoint,
        sha256_hex,
    )

    if not re.match(_NAME_RE, name):
        fail("--name must be 1-100 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
    if not re.match(_VERSION_RE, version):
        fail("--version must be 1-50 characters: letters, digits, '.', '_', '+' or '-'")
    operator = (by if by is not None else getpass.getuser()).strip()
    if not operator or len(operator) > 200:
        fail("--by must be 1-200 characters")
    _prepare_database()

    # Read each file once: the bytes validated are the bytes hashed and stored.
    try:
        blobs = [read_checkpoint(path) for path in checkpoints]
        info = inspect_checkpoint_bytes(blobs, [path.name for path in checkpoints])
    except ValueError as exc:
        fail(str(exc))
    members: list[dict[str, Any]] = [
        {"sha256": sha256_hex(blob), "bytes": len(blob), "filename": path.name}
        for blob, path in zip(blobs, checkpoints, strict=True)
    ]
    digest = ensemble_sha256([m["sha256"] for m in members])

    root = get_settings().resolved_artifact_dir
    with unit_of_work() as session:
        found = _find_project(session, project)
        if registry.get(session, found.id, name, version) is not None:
            fail(f"model {name!r} version {version!r} is already registered in project {found.name!r}")
        for blob, member in zip(blobs, members, strict=True):
            stored = store_chunks(root, [blob], MAX_CHECKPOINT_BYTES)
            if stored.sha256 != member["sha256"]:
                fail(f"{member['filename']}: the stored copy hashes differently; disk or filesystem problem")
            ensure_artifact(session, stored.sha256, stored.size_bytes)
        row = RegisteredModel(
            project_id=found.id,
            name=name,
            version=version,
            kind=KIND,
            sha256=digest,
            members=members,
            tasks=info.tasks,
            task_type=info.task_type,
            description=description,
            registered_by=operator,
        )
        try:
            registry.add(session, row)
        except IntegrityError:  # registered concurrently since the check above
            fail(f"model {name!r} version {version!r} is already registered in project {found.name!r}")
        audit.record(
            session,
            AuditAction.model_register.value,
            project_id=found.id,
            target=f"model:{name}@{version}",
            details={"sha256": digest, "kind": KIND, "members": members, "registered_by": operator},
        )
        result = _model_dict(row, found.name)
    if json_out:
        print_json(result)
        return
    tasks = ", ".join(info.tasks)
    console.print(
        f"registered {name} {version} in project {found.name}: {KIND}, {info.n_members} member(s), "
        f"{info.task_type}, tasks: {tasks}",
        markup=False,
    )
    typer.echo(digest)


@app.command("list")
def list_models(
    project: str = typer.Option(..., "--project", help="Project name or id."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The project's registered activity models, newest version first within each name."""
    from db.repositories import registry
    from db.session import unit_of_work

    _prepare_database()
    with unit_of_work() as session:
        found = _find_project(session, project)
        rows = [_model_dict(row, found.name) for row in registry.list(session, found.id)]
    if json_out:
        print_json(rows)
        return
    for row in rows:  # the full record is in --json; the table fits a terminal
        row["tasks"] = ", ".join(row["tasks"])
        row["members"] = row["n_members"]
        row["sha256"] = row["sha256"][:12]
        row["registered"] = f"{row['created_at'][:16].replace('T', ' ')} {row['registered_by']}"
    columns = ["name", "version", "task_type", "tasks", "members", "sha256", "registered"]
    console.print(rows_table(rows, columns, title=f"models of {found.name}"))


def _prepare_database() -> None:
    from core.settings import get_settings

    if not get_settings().database_url:  # the embedded SQLite default is created on first use, as `serve` does
        from db.migrate import upgrade

        upgrade()


def _find_project(session: Any, ref: str) -> Any:
    import uuid

    from db.models import Project
    from db.repositories import projects

    try:
        found = session.get(Project, uuid.UUID(ref))
    except ValueError:
        found = None
    found = found or projects.get_by_name(session, ref)
    if found is None:
        fail(f"no project {ref!r} (create it with `medsieve token create --project NAME`)", EXIT_AUTH)
    return found


def _model_dict(row: Any, project_name: str) -> dict[str, Any]:
    return {
        "project": project_name,
        "name": row.name,
        "version": row.version,
        "kind": row.kind,
        "sha256": row.sha256,
        "tasks": list(row.tasks),
        "task_type": row.task_type,
        "n_members": row.n_members,
        "members": row.members,
        "description": row.description,
        "registered_by": row.registered_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }
