"""Literature benchmark: abstracts/s of our pipeline vs a plain `transformers.pipeline("token-classification")`
loop, on the same model and the same texts, in one run.

Texts: real PubMed abstracts (title + abstract) from BC5CDR (../shared/data/bc5cdr, training + development),
or any file the product reads (--input: PubMed XML, MEDLINE, BioC, JSONL, text); cycled to --abstracts.

Timed, each from the texts to entities, after both are loaded and warmed up on 16 other abstracts:
- peer: `pipeline("token-classification", model=<the model folder>, aggregation_strategy="first")` called once
  per abstract (the plain loop most scripts write), on the same device;
- ours (NER): sentence splitting + batched, length-sorted tagging (Tagger.tag), the same model;
- ours (end to end): the worker's LiteraturePipeline.run in shards of --shard-size: sentences, NER, MeSH
  normalization, abbreviations, CID relations and result rows (no database).
Agreement: the share of the peer's entity spans (start, end, type) that ours also finds, as a sanity check that
both ran the same model (they differ where the peer's word aggregation or truncation differs from ours).

Run:  .venv/bin/python -m bench.literature --abstracts 2000 [--device cpu|gpu] [--peer-abstracts M]
      [--model DIR | --bert-base] [--input FILE] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "bc5cdr"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_documents(path: Path | None, n: int) -> list:
    from workers.literature.documents import Document

    docs: list[Document] = []
    if path is None:
        from workers.literature.pubtator import read_pubtator

        for name in ("CDR_TrainingSet.PubTator.txt", "CDR_DevelopmentSet.PubTator.txt"):
            docs.extend(d for d, _, _ in read_pubtator(DEFAULT_DATA / name))
    else:
        from workers.literature import parsers

        fmt = parsers.detect_format(path.name, path.read_bytes()[:65536], None)
        for item in parsers.iter_items(path, fmt, require_abstract=False):
            if item.error is None and "doc" in item.payload:
                docs.append(Document.from_payload(item.payload["doc"]))
    if not docs:
        raise SystemExit("no documents to benchmark")
    return [docs[i % len(docs)] for i in range(n + 16)]


def run_peer(model_dir: Path, texts: list[str], device: str) -> tuple[float, list[set]]:
    import torch
    from transformers import pipeline

    kwargs: dict[str, Any] = {"device": 0 if device == "gpu" else -1}
    if device != "gpu":
        # transformers 5 loads the checkpoint's dtype (our weights ship as fp16), and fp16 matrix products on a CPU
        # are several times slower: the peer computes in fp32 on the CPU, as our tagger does.
        kwargs["dtype"] = torch.float32
    # "first": each word takes its first sub-token's label, as the model was trained ("simple" splits words whose
    # continuation sub-tokens, never trained, disagree, and then finds half the entities).
    nlp = pipeline("token-classification", model=str(model_dir), aggregation_strategy="first", **kwargs)
    for t in texts[:16]:
        nlp(t)
    start = time.perf_counter()
    found = [{(e["start"], e["end"], e["entity_group"]) for e in nlp(t)} for t in texts[16:]]
    return time.perf_counter() - start, found


def bert_base_sized(shipped: Path, out: Path) -> Path:
    """A BERT-base-sized token classifier (12 layers, 768 hidden, 110M parameters) with random weights and the
    shipped tokenizer and labels: throughput depends on the shapes, not on the weights, and no BERT-base
    checkpoint installs offline here. Its entities are meaningless; only the timings count."""
    from transformers import AutoConfig, AutoTokenizer, BertConfig, BertForTokenClassification

    labels = AutoConfig.from_pretrained(shipped).id2label
    tokenizer = AutoTokenizer.from_pretrained(shipped)
    config = BertConfig(vocab_size=tokenizer.vocab_size, id2label=labels, label2id={v: k for k, v in labels.items()})
    BertForTokenClassification(config).half().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--abstracts", type=int, default=2000)
    ap.add_argument("--peer-abstracts", type=int, default=None, help="Time the peer on the first M abstracts only.")
    ap.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--model", type=Path, default=None, help="NER model folder (default: the shipped one).")
    ap.add_argument("--input", type=Path, default=None, help="Documents to use instead of BC5CDR.")
    ap.add_argument("--shard-size", type=int, default=500)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument(
        "--bert-base",
        action="store_true",
        help="Time a BERT-base-sized model (random weights, shipped tokenizer) instead of the shipped MiniLM.",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from core.settings import get_settings
    from workers.literature.ner import SHIPPED_MODEL, Tagger
    from workers.literature.params import LiteratureParams
    from workers.literature.pipeline import LiteraturePipeline, document_sentences
    from workers.plugin import Item

    model_dir = args.model or get_settings().literature_model_dir or SHIPPED_MODEL
    if args.bert_base:
        import tempfile

        model_dir = bert_base_sized(Path(model_dir), Path(tempfile.mkdtemp(prefix="medsieve-bert-base-")))
        args.model = model_dir
    docs = load_documents(args.input, args.abstracts)
    texts = [d.text for d in docs]
    n = len(docs) - 16
    chars = sum(len(t) for t in texts[16:])
    say(f"{n} abstracts ({chars / n:.0f} characters on average), device {args.device}, model {model_dir}")

    tagger = Tagger(model_dir, device=args.device)
    tagger.tag(texts[:16], [document_sentences(d, 10**9)[0] for d in docs[:16]])
    start = time.perf_counter()
    sentences = [document_sentences(d, 10**9)[0] for d in docs[16:]]
    spans, _ = tagger.tag(texts[16:], sentences)
    ours_ner_s = time.perf_counter() - start
    say(f"ours (NER): {n / ours_ner_s:,.1f} abstracts/s")

    if args.model:
        os.environ["MEDSIEVE_LITERATURE_MODEL_DIR"] = str(args.model)
        get_settings.cache_clear()
    pipe = LiteraturePipeline("gpu" if args.device == "gpu" else "cpu")
    params = LiteratureParams(require_abstract=False)
    items = [Item(i, d.doc_id, {"doc": d.to_payload()}) for i, d in enumerate(docs)]
    pipe.run(items[:16], params)
    start = time.perf_counter()
    for i in range(16, len(items), args.shard_size):
        pipe.run(items[i : i + args.shard_size], params)
    ours_e2e_s = time.perf_counter() - start
    say(f"ours (end to end): {n / ours_e2e_s:,.1f} abstracts/s")

    figures: dict[str, Any] = {
        "abstracts": n,
        "device": args.device,
        "cuda": torch.cuda.get_device_name(0) if args.device == "gpu" and torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(),
        "host": platform.node(),
        "model": "bert-base-sized (random weights)" if args.bert_base else str(model_dir),
        "ours_ner_abstracts_per_s": round(n / ours_ner_s, 2),
        "ours_end_to_end_abstracts_per_s": round(n / ours_e2e_s, 2),
    }
    if not args.skip_peer:
        m = min(n, args.peer_abstracts or n)
        peer_s, peer_found = run_peer(Path(model_dir), texts[: 16 + m], args.device)
        peer_rate = m / peer_s
        ours = [{(s.start, s.end, s.type) for s in doc_spans} for doc_spans in spans[:m]]
        both = sum(len(p & o) for p, o in zip(peer_found, ours, strict=True))
        total = sum(len(p) for p in peer_found)
        figures |= {
            "peer_abstracts": m,
            "peer_abstracts_per_s": round(peer_rate, 2),
            "ratio_ner_vs_peer": round(n / ours_ner_s / peer_rate, 2),
            "ratio_end_to_end_vs_peer": round(n / ours_e2e_s / peer_rate, 2),
            "peer_spans_also_found_by_ours": round(both / total, 4) if total else None,
        }
        say(f"peer (transformers pipeline loop): {peer_rate:,.1f} abstracts/s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
