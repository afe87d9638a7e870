"""Scan triage benchmark (issue 5): instances/s of our pipeline vs a per-file pydicom + torch loop, one run.

Inputs: N real-derived 512x512 chest radiographs: the full-size CR in pydicom-data (RG1_UNCI.dcm, a real chest
PA), area-downsampled to 512x512, each instance given its own gamma, exposure offset and noise and its own
study/series/instance UIDs, so no two files are byte-identical and nothing can be cached (uncompressed,
explicit VR little endian; --jpeg2000 writes them JPEG 2000 lossless instead).

Compared, on the same files:
- loop: for each file, pydicom.dcmread -> pixel_array -> rescale/invert/normalize -> the same shipped model at
  batch size 1 (what a script written around pydicom and torch does); one process.
- pipeline: our TriagePipeline.run over shards (header checks, PS3.15 de-identification, decode, quality flags,
  routing, batched model, thumbnails, saliency for flagged images); one process. It does strictly more work.
- system (--stack): the whole product, submit-to-done through the API and N worker processes on the real
  PostgreSQL + RabbitMQ, results and thumbnails written.

Run:  .venv/bin/python -m bench.triage [--instances 1000] [--shard 64] [--stack --workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def make_instances(n: int, out_dir: Path, side: int = 512, seed: int = 0, jpeg2000: bool = False) -> list[Path]:
    import pydicom
    from PIL import Image
    from pydicom.data import get_testdata_file
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    source = pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm"))
    pixels = source.pixel_array.astype(np.float32)
    base = np.asarray(Image.fromarray(pixels, mode="F").resize((side, side), Image.Resampling.BOX))
    top = float(2 ** int(source.BitsStored) - 1)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        gamma = rng.uniform(0.85, 1.15)
        img = top * (np.clip(base / top, 0, 1) ** gamma) + rng.uniform(-200, 200)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, top).astype(np.uint16)
        ds = source.copy()
        ds.Rows, ds.Columns = side, side
        ds.PixelData = img.tobytes()
        if i % 4 == 0:
            study, series = generate_uid(), generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        if jpeg2000:
            from pydicom.uid import JPEG2000Lossless

            ds.compress(JPEG2000Lossless)
        path = out_dir / f"{i:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _loop(paths: list[Path], model: Any) -> float:
    """The per-file script a user would write: read, decode, normalize, score one at a time."""
    import pydicom

    t0 = time.perf_counter()
    for path in paths:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array.astype(np.float32)
        arr = arr * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
        lo, hi = float(arr.min()), float(arr.max())
        img = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            img = 1.0 - img
        model.predict([img], batch_size=1)
    return time.perf_counter() - t0


def _pipeline(zip_path: Path, n: int, shard: int, data_dir: Path, saliency: bool) -> tuple[float, dict[str, int]]:
    os.environ["MEDSIEVE_DATA_DIR"] = str(data_dir)  # the de-identification key file lives there
    from core.settings import reset_settings_cache

    reset_settings_cache()
    from workers.plugin import Item, JobContext
    from workers.triage.params import TriageParams
    from workers.triage.pipeline import TriagePipeline

    pipeline = TriagePipeline("cpu")
    params = TriageParams(saliency=saliency)
    context = JobContext(uuid.uuid4(), uuid.uuid4(), zip_path)
    items = [Item(i, None, {"m": i}) for i in range(n)]
    priorities: dict[str, int] = {}
    t0 = time.perf_counter()
    for start in range(0, n, shard):
        outcome = pipeline.run(items[start : start + shard], params, context)
        assert not outcome.errors, outcome.errors[:3]
        for row in outcome.results:
            priorities[row["priority"]] = priorities.get(row["priority"], 0) + 1
    return time.perf_counter() - t0, priorities


def _system(zip_path: Path, n: int, shard: int, workers: int, tmp: Path) -> dict[str, Any]:
    import httpx

    from bench.processes import service_env, start_api, start_worker
    from bench.services import temp_services

    procs = []
    with temp_services("medsieve_triage_bench") as (db_url, amqp):
        try:
            env = service_env(db_url, amqp, tmp / "data", triage_shard_size=str(shard))
            api, base = start_api(env, tmp / "api.log")
            procs.append(api)
            # One worker with N prefork children (two workers on one host would share a Celery node name).
            procs.append(start_worker(env, tmp / "worker.log", concurrency=workers, queues="triage.cpu"))
            token = subprocess.run(
                [sys.executable, "-m", "cli.main", "token", "create", "--project", "bench"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
                t0 = time.perf_counter()
                with zip_path.open("rb") as fh:
                    r = client.post("/v1/jobs", data={"domain": "triage"}, files={"file": ("scans.zip", fh)})
                r.raise_for_status()
                job_id = r.json()["id"]
                while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
                    time.sleep(0.2)
                wall = time.perf_counter() - t0
            return {
                "status": job["status"],
                "succeeded": job["counts"]["items_succeeded"],
                "failed": job["counts"]["items_failed"],
                "wall_s": round(wall, 2),
                "instances_per_s": round(n / wall, 1),
                "worker_processes": workers,
            }
        finally:
            for p in procs:
                p.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--side", type=int, default=512)
    ap.add_argument("--shard", type=int, default=64)
    ap.add_argument("--jpeg2000", action="store_true")
    ap.add_argument(
        "--no-saliency", action="store_true", help="Pipeline without Grad-CAM overlays (every film here is flagged)."
    )
    ap.add_argument("--stack", action="store_true", help="Also run the whole product on PostgreSQL + RabbitMQ.")
    ap.add_argument("--workers", type=int, default=2, help="Worker processes (prefork children) for --stack.")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from workers.triage.model.runtime import load_model

    with tempfile.TemporaryDirectory(prefix="medsieve-triage-bench-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        paths = make_instances(args.instances, tmp / "files", args.side, jpeg2000=args.jpeg2000)
        zip_path = tmp / "scans.zip"
        with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as zf:
            for p in paths:
                zf.write(p, p.name)
        gen_s = time.perf_counter() - t0

        model = load_model(device="cpu")
        model.predict([np.zeros((args.side, args.side), np.float32)])  # warm-up outside the timings
        loop_s = _loop(paths, model)
        pipe_s, priorities = _pipeline(zip_path, args.instances, args.shard, tmp / "data", not args.no_saliency)
        figures: dict[str, Any] = {
            "instances": args.instances,
            "matrix": f"{args.side}x{args.side}",
            "transfer_syntax": "JPEG 2000 lossless" if args.jpeg2000 else "explicit VR little endian",
            "generate_s": round(gen_s, 1),
            "loop_instances_per_s": round(args.instances / loop_s, 1),
            "pipeline_instances_per_s": round(args.instances / pipe_s, 1),
            "ratio_pipeline_over_loop": round(loop_s / pipe_s, 2),
            "pipeline_priorities": priorities,
            "pipeline_saliency": not args.no_saliency,
            "device": "cpu",
            "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "host": platform.node(),
        }
        if args.stack:
            system = _system(zip_path, args.instances, args.shard, args.workers, tmp)
            figures["system"] = system
            figures["ratio_system_over_loop"] = round(system["instances_per_s"] / figures["loop_instances_per_s"], 2)
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
