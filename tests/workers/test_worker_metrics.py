"""A worker's own metrics endpoint: GPU memory read through nvidia-smi (a stand-in script here; no GPU on the
project machines), absent without a GPU, served over HTTP on the configured port."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from bench.processes import free_port
from workers.metrics import gpu_memory, start_metrics_server, worker_registry

FAKE_SMI = """#!/bin/sh
echo "0, NVIDIA H100 80GB HBM3, 1024, 81559"
echo "1, NVIDIA H100 80GB HBM3, 0, 81559"
"""


@pytest.fixture()
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    exe = tmp_path / "nvidia-smi"
    exe.write_text(FAKE_SMI)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    return exe


def test_gpu_memory_from_nvidia_smi(fake_nvidia_smi: Path) -> None:
    assert gpu_memory() == [
        ("0", "NVIDIA H100 80GB HBM3", 1024 * 1024**2, 81559 * 1024**2),
        ("1", "NVIDIA H100 80GB HBM3", 0.0, 81559 * 1024**2),
    ]
    text = generate_latest(worker_registry()).decode()
    assert 'medsieve_gpu_memory_used_bytes{gpu="0",name="NVIDIA H100 80GB HBM3"} 1.073741824e+09' in text
    assert 'medsieve_gpu_memory_total_bytes{gpu="1"' in text


def test_no_gpu_no_gpu_metrics(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    assert gpu_memory() == []
    assert b"medsieve_gpu" not in generate_latest(worker_registry())


def test_metrics_server_serves_the_worker_registry(fake_nvidia_smi: Path) -> None:
    assert start_metrics_server(0) is False  # off by default
    port = free_port()
    assert start_metrics_server(port) is True
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and "medsieve_gpu_memory_used_bytes" in r.text
