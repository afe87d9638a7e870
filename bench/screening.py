"""ADMET panel benchmark: molecules/s of our AdmetPanel vs ADMET-AI's own ADMETModel.predict(), one run.

Inputs: N unique real-derived molecules: analogs of ADMET-AI's shipped DrugBank-approved set, each made by one
deterministic RDKit edit of a drug (an H replaced by F, Cl, CH3, OH or NH2 at one position, or an aromatic CH
replaced by N), sanitized and deduplicated by canonical SMILES, so no two inputs are identical and none is a
DrugBank reference molecule itself; past the single edits of every drug, edits of the analogs follow.

Compared, on the same SMILES strings, each timed end to end from the strings (ours includes MolFromSmiles):
- peer: `ADMETModel().predict(smiles)` with ADMET-AI's defaults for the device (num_workers 8 on a GPU, 0 on CPU);
- ours: `AdmetPanel(device).predict(mols)`.
Both are loaded, and warmed up on 64 other molecules, before the clock starts. The outputs are compared column
by column, so the run doubles as a parity check at scale: values (physchem + ADMET) and DrugBank percentiles
are reported separately, and percentile differences are checked to be single rank steps across a reference
value lying between the two predictions (the only way a ~1e-7 float32 difference can move a percentile).

Run:  .venv/bin/python -m bench.screening --molecules 2000 [--device cpu|cuda] [--batch-size B]
      [--physchem-workers W] [--skip-peer | --peer-molecules M] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_SUBSTITUENTS = ("F", "Cl", "C", "O", "N")  # atomic symbols of the H replacements (methyl, hydroxyl, amino)
_PEER_BATCH = 64  # ADMET-AI's DataLoader batch size


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _edits(mol: Any) -> Iterator[Any]:
    """Single-edit analogs of one molecule, in a fixed order (atom by atom)."""
    from rdkit import Chem

    for atom in mol.GetAtoms():
        idx = atom.GetIdx()
        if atom.GetTotalNumHs() > 0:
            for symbol in _SUBSTITUENTS:
                rw = Chem.RWMol(mol)
                new = rw.AddAtom(Chem.Atom(symbol))
                rw.AddBond(idx, new, Chem.BondType.SINGLE)
                rw.GetAtomWithIdx(idx).SetNumExplicitHs(0)
                rw.GetAtomWithIdx(idx).SetNoImplicit(False)
                yield rw
        if atom.GetSymbol() == "C" and atom.GetIsAromatic() and atom.GetTotalNumHs() == 1 and atom.GetDegree() == 2:
            rw = Chem.RWMol(mol)
            rw.GetAtomWithIdx(idx).SetAtomicNum(7)
            rw.GetAtomWithIdx(idx).SetNoImplicit(False)
            yield rw


def make_molecules(n: int, seed: int = 0) -> list[str]:
    """n unique canonical SMILES of analogs of the DrugBank-approved drugs (deterministic for a seed)."""
    import pandas as pd
    from admet_ai.constants import DEFAULT_DRUGBANK_PATH
    from rdkit import Chem, rdBase

    rng = random.Random(seed)
    with rdBase.BlockLogs():
        parents = [Chem.MolFromSmiles(s) for s in pd.read_csv(DEFAULT_DRUGBANK_PATH)["smiles"]]
        seen = {Chem.MolToSmiles(m) for m in parents if m is not None}
        generation = [m for m in parents if m is not None]
        out: list[str] = []
        while len(out) < n and generation:
            rng.shuffle(generation)
            # Round-robin over the drugs, one edit each per turn, so a small N still spans many scaffolds.
            streams = [_edits(m) for m in generation]
            next_generation = []
            while streams and len(out) < n:
                alive = []
                for stream in streams:
                    rw = next(stream, None)
                    if rw is None:
                        continue
                    alive.append(stream)
                    try:
                        Chem.SanitizeMol(rw)
                        smiles = Chem.MolToSmiles(rw)
                    except Exception:  # an edit RDKit rejects (valence, kekulization) is simply skipped
                        continue
                    if smiles in seen or Chem.MolFromSmiles(smiles) is None:
                        continue
                    seen.add(smiles)
                    out.append(smiles)
                    next_generation.append(Chem.MolFromSmiles(smiles))
                    if len(out) == n:
                        break
                streams = alive
            generation = next_generation
    if len(out) < n:
        raise RuntimeError(f"could only make {len(out)} unique analogs")
    return out


def _peer(smiles: list[str], warmup: list[str]) -> tuple[float, np.ndarray, list[str]]:
    import pandas as pd
    from admet_ai import ADMETModel

    model = ADMETModel()  # its defaults for this machine (num_workers 8 with a GPU, 0 without)
    model.predict(warmup)
    t0 = time.perf_counter()
    frame = model.predict(smiles)
    seconds = time.perf_counter() - t0
    assert isinstance(frame, pd.DataFrame)  # a list in gives a frame out (a str would give a dict)
    return seconds, frame.loc[smiles].to_numpy(dtype=np.float64), list(frame.columns)


def _ours(smiles: list[str], warmup: list[str], device: str, batch_size: int | None, workers: int | None) -> Any:
    from rdkit import Chem, rdBase

    from workers.screening.admet import AdmetPanel

    t0 = time.perf_counter()
    panel = AdmetPanel(device=device, physchem_workers=workers, batch_size=batch_size)
    load_s = time.perf_counter() - t0
    with rdBase.BlockLogs():
        panel.predict([Chem.MolFromSmiles(s) for s in warmup])
        t0 = time.perf_counter()
        mols = [Chem.MolFromSmiles(s) for s in smiles]
        parse_s = time.perf_counter() - t0
        values = panel.predict(mols)
    seconds = time.perf_counter() - t0
    return panel, load_s, parse_s, seconds, values


def _compare(ours: np.ndarray, theirs: np.ndarray, panel: Any) -> dict[str, Any]:
    n_values = len(panel.columns) // 2
    both_nan = np.isnan(ours) & np.isnan(theirs)
    diff = np.where(both_nan, 0.0, np.abs(ours - theirs))
    diff = np.where(np.isnan(diff), np.inf, diff)
    per_column = diff.max(axis=0)
    worst = int(np.argmax(per_column[:n_values]))
    moved = np.argwhere(diff[:, n_values:] > 1e-4)
    unexplained = 0
    for i, j in moved:
        lo, hi = sorted((ours[i, j], theirs[i, j]))
        column = panel._reference.sorted_columns[j]
        between = np.count_nonzero((column >= lo) & (column <= hi))
        if between == 0 or diff[i, n_values + j] > between * 100.0 / len(column) + 1e-9:
            unexplained += 1
    return {
        "max_abs_diff_all_columns": float(per_column.max()),
        "max_abs_diff_values": float(per_column[:n_values].max()),
        "max_abs_diff_values_column": panel.columns[worst],
        "max_abs_diff_percentiles": float(per_column[n_values:].max()),
        "bit_identical_fraction": float(np.mean(ours == theirs)),
        "percentile_entries_moved_over_1e-4": len(moved),
        "percentile_moves_not_explained_by_a_reference_value_between": unexplained,
    }


def _pipeline(smiles: list[str], warmup: list[str], device: str) -> dict[str, Any]:
    """The product's per-shard work on the same molecules: what a worker does between claim and write."""
    from workers.plugin import Item
    from workers.screening.params import ScreeningParams
    from workers.screening.pipeline import ScreeningPipeline

    pipeline = ScreeningPipeline(device="gpu" if device.startswith("cuda") else "cpu")
    params = ScreeningParams()
    pipeline.run([Item(i, None, {"smiles": s}) for i, s in enumerate(warmup)], params)  # loads the models
    shard = 2000
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    for start in range(0, len(smiles), shard):
        items = [Item(start + i, None, {"smiles": s}) for i, s in enumerate(smiles[start : start + shard])]
        outcome = pipeline.run(items, params)
        for key, value in outcome.timings.items():
            stages[key] = stages.get(key, 0.0) + value
    elapsed = time.perf_counter() - t0
    return {
        "molecules_per_s": round(len(smiles) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "shard_size": shard,
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--molecules", type=int, default=2000)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--batch-size", type=int, default=None, help="AdmetPanel batch size (default: 1024 GPU, 64 CPU)")
    ap.add_argument("--physchem-workers", type=int, default=None, help="AdmetPanel worker processes (default: CPUs-1)")
    ap.add_argument("--skip-peer", action="store_true", help="Time ours only (for very large N).")
    ap.add_argument("--peer-molecules", type=int, default=None, help="Time ADMET-AI on the first M molecules only.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--pipeline",
        action="store_true",
        help="Also time the whole screening pipeline (parse, standardize, filters, ADMET panel, score) in shards.",
    )
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    import torch

    t0 = time.perf_counter()
    all_smiles = make_molecules(args.molecules + _PEER_BATCH, args.seed)
    warmup, smiles = all_smiles[:_PEER_BATCH], all_smiles[_PEER_BATCH:]
    _log(
        f"generated {len(smiles)} unique analogs of DrugBank-approved drugs (+{len(warmup)} for warm-up) "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    panel, load_s, parse_s, ours_s, ours = _ours(smiles, warmup, args.device, args.batch_size, args.physchem_workers)
    ours_rate = len(smiles) / ours_s
    _log(f"ours: {len(smiles)} molecules in {ours_s:.2f} s = {ours_rate:.1f} molecules/s")
    t = panel.last_timings
    figures: dict[str, Any] = {
        "molecules": len(smiles),
        "columns": len(panel.columns),
        "device": panel.device,
        "ours_molecules_per_s": round(ours_rate, 1),
        "ours_seconds": round(ours_s, 2),
        "ours_load_s": round(load_s, 1),
        "ours_stages": {
            "parse_s (MolFromSmiles, serving process)": round(parse_s, 2),
            "physchem_cpu_s (summed over processes)": round(t["physchem_cpu_s"], 2),
            "featurize_cpu_s (summed over processes)": round(t["featurize_cpu_s"], 2),
            "model_s (serving process, incl. GPU wait)": round(t["model_s"], 2),
            "wait_for_cpu_stage_s (serving process idle)": round(t["wait_s"], 2),
            "percentiles_s": round(t["percentiles_s"], 3),
            "predict_total_s": round(t["total_s"], 2),
        },
        "ours_stage_rates_molecules_per_s": {
            "physchem_per_cpu": round(len(smiles) / t["physchem_cpu_s"], 1),
            "featurize_per_cpu": round(len(smiles) / t["featurize_cpu_s"], 1),
            "model": round(len(smiles) / t["model_s"], 1),
            "percentiles": round(len(smiles) / max(t["percentiles_s"], 1e-9), 1),
        },
        "batch_size": panel.batch_size,
        "physchem_workers": panel.physchem_workers,
    }

    if not args.skip_peer:
        m = len(smiles) if args.peer_molecules is None else min(args.peer_molecules, len(smiles))
        if m % _PEER_BATCH == 1:
            # ADMET-AI's loader drops a final batch of one molecule and then cannot build its result frame.
            m -= 1
        peer_smiles = smiles[:m]
        peer_s, theirs, peer_columns = _peer(peer_smiles, warmup)
        if peer_columns != panel.columns:
            raise SystemExit("column lists differ between ADMET-AI and AdmetPanel")
        peer_rate = m / peer_s
        subset = m < len(smiles)
        _log(
            f"ADMET-AI: {m} molecules in {peer_s:.2f} s = {peer_rate:.1f} molecules/s"
            + (f" (TIMED ON THE FIRST {m} OF {len(smiles)} MOLECULES)" if subset else "")
        )
        figures.update(
            {
                "peer": "admet_ai.ADMETModel().predict (defaults)",
                "peer_molecules": m,
                "peer_timed_on_subset": subset,
                "peer_molecules_per_s": round(peer_rate, 1),
                "peer_seconds": round(peer_s, 2),
                "ratio_ours_over_peer": round(ours_rate / peer_rate, 2),
                "parity_on_peer_molecules": _compare(ours[:m], theirs, panel),
            }
        )
        _log(
            f"ratio ours/ADMET-AI: {ours_rate / peer_rate:.2f}x; max |diff| over all columns: "
            f"{figures['parity_on_peer_molecules']['max_abs_diff_all_columns']:.3g}"
        )
    panel.close()
    if args.pipeline:
        figures["pipeline"] = _pipeline(smiles, warmup, args.device)
        _log(f"whole pipeline: {figures['pipeline']['molecules_per_s']} molecules/s")

    figures.update(
        {
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name() if panel.device.startswith("cuda") else None,
            "cpus": os.cpu_count(),
            "host": platform.node(),
        }
    )
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
