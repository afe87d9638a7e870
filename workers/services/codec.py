"""Shard input encoding: JSON lines, zlib level 1 (fast; SMILES compress ~3x)."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence

from workers.plugin import Item

CODEC = "jsonl+zlib"


def encode_items(items: Sequence[Item]) -> tuple[bytes, str]:
    lines = []
    for item in items:
        record: dict[str, object] = {"i": item.index, "k": item.key, "p": item.payload}
        if item.error is not None:
            record["e"] = list(item.error)
        lines.append(json.dumps(record, separators=(",", ":")))
    raw = ("\n".join(lines)).encode()
    return zlib.compress(raw, 1), hashlib.sha256(raw).hexdigest()


def decode_items(data: bytes, codec: str = CODEC) -> list[Item]:
    if codec != CODEC:
        raise ValueError(f"unknown shard codec {codec!r}")
    items = []
    for line in zlib.decompress(data).decode().split("\n"):
        if not line:
            continue
        rec = json.loads(line)
        err = rec.get("e")
        items.append(Item(rec["i"], rec["k"], rec["p"], (err[0], err[1]) if err else None))
    return items
