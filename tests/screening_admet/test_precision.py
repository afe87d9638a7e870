"""Why the panel stays in float32: TF32 and bf16 products move the outputs by far more than 1e-4.

TF32 cannot run on a CPU, so it is emulated: both operands of every matrix product rounded to TF32's 10-bit
mantissa (round to nearest), float32 accumulation, which is what tensor cores do with TF32 inputs. bf16 runs
for real under CPU autocast. The reference is the float32 forward.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from tests.screening_admet.conftest import mols_of
from workers.screening.admet.ensemble import GraphBatch
from workers.screening.admet.featurize import GraphFeaturizer
from workers.screening.admet.panel import AdmetPanel

TOL = 1e-4


def to_tf32(x: torch.Tensor) -> torch.Tensor:
    bits = x.contiguous().view(torch.int32)
    rounded = (bits + 0x1000) & ~0x1FFF  # keep 10 mantissa bits, round half away from zero
    return rounded.view(torch.float32)


def forward(panel: AdmetPanel, smiles: list[str]) -> torch.Tensor:
    g = GraphBatch.from_arrays(GraphFeaturizer()(mols_of(smiles)), torch.device("cpu"))
    with torch.inference_mode():
        return torch.cat(panel._model(g, 10), dim=1)


def test_reduced_precision_exceeds_tolerance(
    panel: AdmetPanel, sample_smiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    smiles = sample_smiles[:64]
    fp32 = forward(panel, smiles)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = forward(panel, smiles).float()

    bmm: Callable[..., torch.Tensor] = torch.bmm
    baddbmm: Callable[..., torch.Tensor] = torch.baddbmm
    monkeypatch.setattr(torch, "bmm", lambda a, b: bmm(to_tf32(a), to_tf32(b)))
    monkeypatch.setattr(torch, "baddbmm", lambda c, a, b: baddbmm(c, to_tf32(a), to_tf32(b)))
    tf32 = forward(panel, smiles)
    monkeypatch.undo()

    bf16_diff = (bf16 - fp32).abs().max().item()
    tf32_diff = (tf32 - fp32).abs().max().item()
    assert bf16_diff > TOL and tf32_diff > TOL, f"bf16 {bf16_diff:.3g}, tf32 {tf32_diff:.3g}: revisit the fp32 choice"
    assert torch.equal(forward(panel, smiles), fp32)
