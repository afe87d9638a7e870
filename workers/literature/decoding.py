"""BIO decoding of per-word label probabilities: constrained Viterbi over whole sentences, batched in numpy.

Why not the per-word argmax: an argmax path can hold `O I-Disease` or `B-Chemical I-Disease`, which the old decoder
had to patch into mentions of its own making (a stray I- opened a mention, broken words split one). Viterbi finds
the most probable path among the valid BIO paths (I-X only after B-X or I-X), so a mention is all or nothing.

Why an `O` weight: the shipped model was trained with a partial-label loss (a corpus's O may be a type that corpus
does not annotate), which leaves O less confident than it should be and the tagger over-predicts mentions
(precision below recall). Multiplying P(O) by `o_weight` before decoding moves that balance; the value is tuned on
development data and stored with the model (`decoding.json`), never on test data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_FORBIDDEN = -1e4  # log-space "impossible" that stays finite (no inf - inf = nan in the sums)


@dataclass(frozen=True, slots=True)
class Decoding:
    viterbi: bool = True
    o_weight: float = 1.0

    @classmethod
    def for_model(cls, model_dir: Path, o_weight: float | None = None) -> Decoding:
        """The decoding a model folder asks for (`decoding.json`), else plain constrained Viterbi; `o_weight`
        overrides the folder's (for sweeps)."""
        path = Path(model_dir) / "decoding.json"
        raw = json.loads(path.read_text()) if path.exists() else {}
        weight = o_weight if o_weight is not None else float(raw.get("o_weight", 1.0))
        return cls(viterbi=bool(raw.get("viterbi", True)), o_weight=weight)

    def as_dict(self) -> dict[str, object]:
        return {"viterbi": self.viterbi, "o_weight": self.o_weight}


class BioDecoder:
    def __init__(self, labels: Sequence[str], decoding: Decoding = Decoding()) -> None:
        self.labels = tuple(labels)
        self.decoding = decoding
        n = len(self.labels)
        kinds = [label.partition("-") for label in self.labels]
        # trans[prev, cur]: an I-X may only follow B-X or I-X; a sentence may not start with an I-.
        self.trans = np.zeros((n, n), dtype=np.float32)
        self.start = np.zeros(n, dtype=np.float32)
        for cur, (prefix, _, kind) in enumerate(kinds):
            if prefix != "I":
                continue
            self.start[cur] = _FORBIDDEN
            for prev, (p_prefix, _, p_kind) in enumerate(kinds):
                if p_prefix not in ("B", "I") or p_kind != kind:
                    self.trans[prev, cur] = _FORBIDDEN
        self.o_index = self.labels.index("O") if "O" in self.labels else None

    def paths(self, probs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Label ids per word for each sentence, given its (words, labels) probability matrix."""
        out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(probs)
        # Sentences of similar length share a batch so the time loop wastes little on padding.
        order = sorted(range(len(probs)), key=lambda i: len(probs[i]))
        for k in range(0, len(order), 512):
            idx = [i for i in order[k : k + 512] if len(probs[i])]
            if idx:
                for i, path in zip(idx, self._batch([probs[i] for i in idx]), strict=True):
                    out[i] = path
        return out

    def _batch(self, probs: Sequence[np.ndarray]) -> list[np.ndarray]:
        lengths = np.array([len(p) for p in probs])
        width, n = int(lengths.max()), len(self.labels)
        logp = np.zeros((len(probs), width, n), dtype=np.float32)
        for b, p in enumerate(probs):
            logp[b, : len(p)] = np.log(np.maximum(p, 1e-12))
        if self.o_index is not None and self.decoding.o_weight != 1.0:
            logp[:, :, self.o_index] += np.float32(np.log(self.decoding.o_weight))
        if not self.decoding.viterbi:
            return [logp[b, :length].argmax(-1) for b, length in enumerate(lengths)]
        rows = np.arange(len(probs))
        score = logp[:, 0] + self.start
        back = np.zeros((len(probs), width, n), dtype=np.int8)
        for t in range(1, width):
            cand = score[:, :, None] + self.trans[None]  # (batch, previous label, current label)
            back[:, t] = cand.argmax(1)
            live = (t < lengths)[:, None]
            score = np.where(live, cand.max(1) + logp[:, t], score)  # a finished sentence keeps its score
        path = np.zeros((len(probs), width), dtype=np.int64)
        cur = score.argmax(1)
        for t in range(width - 1, -1, -1):
            inside = t < lengths
            path[:, t] = np.where(inside, cur, 0)
            if t:
                cur = np.where(inside, back[rows, t, cur], cur)
        return [path[b, :length] for b, length in enumerate(lengths)]


def path_spans(
    labels: Sequence[str], words: Sequence[tuple[int, int]], path: np.ndarray, probs: np.ndarray
) -> list[tuple[int, int, str, float]]:
    """(start, end, type, mean probability of the chosen labels) per mention of a valid BIO path."""
    out: list[tuple[int, int, str, float]] = []
    cur: list | None = None  # [start, end, type, probabilities]
    for (start, end), label_id, p in zip(words, path.tolist(), probs, strict=True):
        prefix, _, kind = labels[label_id].partition("-")
        if cur is not None and prefix == "I" and kind == cur[2]:
            cur[1] = end
            cur[3].append(float(p[label_id]))
            continue
        if cur is not None:
            out.append((cur[0], cur[1], cur[2], sum(cur[3]) / len(cur[3])))
            cur = None
        if prefix in ("B", "I"):  # I- only opens a mention when decoding without Viterbi
            cur = [start, end, kind, [float(p[label_id])]]
    if cur is not None:
        out.append((cur[0], cur[1], cur[2], sum(cur[3]) / len(cur[3])))
    return out
