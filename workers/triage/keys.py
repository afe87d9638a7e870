"""The per-project de-identification key. Pseudonyms are HMACs under it, so the same source UID maps to the
same pseudonym within a project (series stay linked across jobs and shards) and to unrelated ones across
projects. The key never leaves the worker: it is not in the database, the broker or a log."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from functools import lru_cache
from pathlib import Path

from core.settings import get_settings

_KEY_FILE = "deid.key"


def _read_or_create(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32)
    try:
        # O_EXCL: two workers starting together must agree on one key, so the loser reads the winner's file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    return secret


@lru_cache(maxsize=1)
def server_secret() -> bytes:
    settings = get_settings()
    configured = settings.deid_secret.get_secret_value()
    if configured:
        return configured.encode()
    return _read_or_create(settings.data_dir.resolve() / _KEY_FILE)


def project_key(project_id: uuid.UUID) -> bytes:
    return hmac.new(server_secret(), b"medsieve-deid-v1:" + project_id.bytes, hashlib.sha256).digest()
