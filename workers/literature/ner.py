"""Token-classification tagger: sentences in, typed character spans out, batched for throughput.

Why sentence-level: the shipped model was trained on sentences, and sentences sort into tight length buckets
(little padding). A sentence longer than the model window is cut into overlapping windows; each word takes its
label from the window where it sits farthest from an edge (the most context on both sides).

Decoding: each word keeps its first sub-token's label probabilities; a constrained Viterbi over the sentence turns
them into BIO mentions (`decoding.py`, with the model folder's `decoding.json`).

GPU path: bf16 autocast, batches sorted by length under a padded-token budget, and the next chunk of sentences
is tokenized on a thread while the model runs on the current one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.literature.decoding import BioDecoder, Decoding, path_spans

SHIPPED_MODEL = Path(__file__).parent / "models" / "ner-minilm"


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # character offsets into the text the sentence offsets refer to
    end: int
    type: str
    score: float  # mean probability of the chosen label over the mention's words


@dataclass(frozen=True, slots=True)
class TaggerInfo:
    name: str
    version: str
    sha256: str
    labels: tuple[str, ...]


def model_info(model_dir: Path) -> TaggerInfo:
    """Name/version/sha256 of a model folder, without loading torch (for provenance and the API)."""
    weights = model_dir / "model.safetensors"
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    config = json.loads((model_dir / "config.json").read_text())
    labels = tuple(config["id2label"][str(i)] for i in range(len(config["id2label"])))
    record = model_dir / "training.json"
    version = json.loads(record.read_text()).get("version", "1") if record.exists() else "1"
    return TaggerInfo(model_dir.name, str(version), digest.hexdigest(), labels)


class Tagger:
    def __init__(
        self,
        model_dir: Path | None = None,
        device: str = "cpu",
        *,
        max_len: int = 256,
        stride: int = 64,
        tokens_per_batch: int | None = None,
        chunk_sentences: int = 4096,
        decoding: Decoding | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.model_dir = Path(model_dir or SHIPPED_MODEL)
        self.info = model_info(self.model_dir)
        self.torch = torch
        self.device = torch.device("cuda" if device in ("gpu", "cuda") and torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        # Weights ship as fp16; the CPU computes in fp32, the GPU in bf16 autocast.
        model = AutoModelForTokenClassification.from_pretrained(self.model_dir, dtype=torch.float32)
        self.model = model.to(self.device).eval()
        self.labels = self.info.labels
        self.decoding = decoding or Decoding.for_model(self.model_dir)
        self.decoder = BioDecoder(self.labels, self.decoding)
        self.max_len = max_len
        self.stride = stride
        self.tokens_per_batch = tokens_per_batch or (65536 if self.device.type == "cuda" else 8192)
        self.chunk_sentences = chunk_sentences
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ner-tokenize")
        self._lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------------------------

    def tag(
        self, texts: Sequence[str], sentences: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[list[list[Span]], list[bool]]:
        """Spans per text (offsets into that text) and, per text, whether any sentence needed several windows."""
        flat: list[tuple[int, int, int]] = [(t, s, e) for t, spans in enumerate(sentences) for s, e in spans if e > s]
        out: list[list[Span]] = [[] for _ in texts]
        windowed = [False] * len(texts)
        with self._lock:  # one model, one CUDA stream: callers in threads take turns
            for chunk, encoded in self._encoded_chunks(texts, flat):
                for (t, s, _), spans, cut in self._run(chunk, encoded, texts):
                    out[t].extend(Span(s + a, s + b, kind, score) for a, b, kind, score in spans)
                    windowed[t] = windowed[t] or cut
        return out, windowed

    # -- internals ----------------------------------------------------------------------------------------------

    def _encode(self, texts: Sequence[str], chunk: Sequence[tuple[int, int, int]]):
        return self.tokenizer(
            [texts[t][s:e] for t, s, e in chunk],
            truncation=True,
            max_length=self.max_len,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )

    def _encoded_chunks(self, texts: Sequence[str], flat: Sequence[tuple[int, int, int]]) -> Iterator[tuple]:
        """Chunks of sentences with their encodings; chunk k+1 is tokenized while chunk k runs on the model."""
        chunks = [flat[i : i + self.chunk_sentences] for i in range(0, len(flat), self.chunk_sentences)]
        pending: Future | None = self._pool.submit(self._encode, texts, chunks[0]) if chunks else None
        for i, chunk in enumerate(chunks):
            assert pending is not None
            encoded = pending.result()
            pending = self._pool.submit(self._encode, texts, chunks[i + 1]) if i + 1 < len(chunks) else None
            yield chunk, encoded

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        out: list[list[int]] = []
        current: list[int] = []
        for i in order:
            if current and lengths[i] * (len(current) + 1) > self.tokens_per_batch:
                out.append(current)
                current = []
            current.append(i)
        if current:
            out.append(current)
        return out

    def _forward(self, encoded, rows: Sequence[int]):
        torch = self.torch
        width = max(len(encoded["input_ids"][r]) for r in rows)
        ids = torch.full((len(rows), width), self.tokenizer.pad_token_id or 0, dtype=torch.long)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            seq = encoded["input_ids"][r]
            ids[j, : len(seq)] = torch.tensor(seq)
            attn[j, : len(seq)] = 1
        ids, attn = ids.to(self.device, non_blocking=True), attn.to(self.device, non_blocking=True)
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            probs = self.model(input_ids=ids, attention_mask=attn).logits.float().softmax(-1)
        return probs.cpu().numpy()

    def _run(self, chunk, encoded, texts):
        """Per sentence of the chunk: ((text, start, end), [(a, b, type, score)], needed_windows)."""
        windows = encoded["overflow_to_sample_mapping"]
        lengths = [len(x) for x in encoded["input_ids"]]
        # Per sentence: word start char -> (distance from window edge, end char, label probabilities).
        words: list[dict[int, tuple]] = [{} for _ in chunk]
        counts = [0] * len(chunk)
        for w in windows:
            counts[w] += 1
        for rows in self._batches(lengths):
            probs = self._forward(encoded, rows)
            for j, r in enumerate(rows):
                self._collect(encoded, r, probs[j], words[windows[r]])
        ordered = [[(start, sent[start][1]) for start in sorted(sent)] for sent in words]
        matrices = [
            np.stack([sent[start][2] for start, _ in order]) if order else np.zeros((0, len(self.labels)))
            for sent, order in zip(words, ordered, strict=True)
        ]
        paths = self.decoder.paths(matrices)
        return [
            (sent, path_spans(self.labels, ordered[k], paths[k], matrices[k]), counts[k] > 1)
            for k, sent in enumerate(chunk)
        ]

    @staticmethod
    def _collect(encoded, row: int, probs, words: dict) -> None:
        word_ids = encoded.word_ids(row)
        offsets = encoded["offset_mapping"][row]
        n = len(word_ids)
        first: dict[int, int] = {}
        last_end: dict[int, int] = {}
        for j, w in enumerate(word_ids):
            if w is None:
                continue
            first.setdefault(w, j)
            last_end[w] = offsets[j][1]
        for w, j in first.items():
            start = offsets[j][0]
            edge = min(j, n - 1 - j)
            seen = words.get(start)
            if seen is None or edge > seen[0]:
                words[start] = (edge, last_end[w], probs[j])
