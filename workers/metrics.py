"""A worker's own Prometheus endpoint (`MEDSIEVE_WORKER_METRICS_PORT`): GPU memory per device, where a GPU is.

Everything about jobs, items, shards and queues is served by the API's /metrics from the database and the
broker, exact across any number of workers. Only what a database cannot see lives here: device memory.

Read with `nvidia-smi` (NVML) rather than torch.cuda: asking torch would create a CUDA context in the worker's
main process before it forks its pool, and a forked child cannot use CUDA after that. No GPU or no
nvidia-smi: the GPU metrics are simply absent.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.settings import get_settings

log = logging.getLogger(__name__)

NVIDIA_SMI_TIMEOUT_S = 5
_QUERY = "index,name,memory.used,memory.total"


def gpu_memory() -> list[tuple[str, str, float, float]]:
    """(index, name, used bytes, total bytes) per GPU; [] where there is none or nvidia-smi fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("nvidia-smi failed: %s", type(exc).__name__)
        return []
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        try:
            used, total = float(parts[2]) * 1024**2, float(parts[3]) * 1024**2  # MiB
        except ValueError:
            continue
        gpus.append((parts[0], parts[1], used, total))
    return gpus


class GpuMemoryCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        gpus = gpu_memory()
        if not gpus:
            return
        labels = ["gpu", "name"]
        used = GaugeMetricFamily("medsieve_gpu_memory_used_bytes", "GPU memory in use (all processes)", labels=labels)
        total = GaugeMetricFamily("medsieve_gpu_memory_total_bytes", "GPU memory size", labels=labels)
        for index, name, used_b, total_b in gpus:
            used.add_metric([index, name], used_b)
            total.add_metric([index, name], total_b)
        yield used
        yield total


def worker_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(GpuMemoryCollector())
    return registry


def start_metrics_server(port: int | None = None) -> bool:
    """Serves the worker's registry on 0.0.0.0:port in a daemon thread; False when off (port 0)."""
    port = get_settings().worker_metrics_port if port is None else port
    if not port:
        return False
    start_http_server(port, registry=worker_registry())
    log.info("worker metrics on port %d", port)
    return True
