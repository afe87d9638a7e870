"""Per-process cache of loaded pipelines: models load once per worker process (after fork) and stay resident."""

from __future__ import annotations

import os
import threading

from workers.domains import get_plugin
from workers.plugin import Pipeline

_lock = threading.Lock()
_pipelines: dict[tuple[int, str, str], Pipeline] = {}


def get_pipeline(domain: str, device: str) -> Pipeline:
    key = (os.getpid(), domain, device)
    with _lock:
        pipeline = _pipelines.get(key)
        if pipeline is None:
            pipeline = get_plugin(domain).load_pipeline(device)
            _pipelines[key] = pipeline
        return pipeline
