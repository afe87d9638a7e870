"""Every ADMET-AI Chemprop checkpoint of every ensemble as one stacked network, run in one pass per batch.

ADMET-AI runs each of its checkpoints (5 classification + 5 regression) through its own Lightning Trainer
over the whole input, re-collating every batch once per checkpoint. The checkpoints share one architecture
(bond message passing, norm aggregation, an FFN head), so their weights are stacked along a leading member
axis and each layer becomes one batched matrix product (bmm/baddbmm) over all members: one featurized batch,
one pass, all 10 members.

The arithmetic is Chemprop's, operation for operation (a biased Linear is baddbmm with the same transposed
weight, an unbiased one bmm, sums over bonds and atoms add rows in the same edge order, the ensemble mean is a
mean over the stacked member axis), so on CPU the outputs are the float32 numbers ADMET-AI computes for a full
64-molecule batch, bit for bit in our tests (see _MIN_CPU_ROWS for partial batches). That matters beyond the
1e-4 tolerance on values: a DrugBank percentile is a step function of the value, and a DrugBank drug's own
reference value sits within float32 noise of its prediction. On a GPU, sums use atomics (as Chemprop's do),
so results agree to float32 rounding, not bit for bit.

On a CPU, members_per_pass=1 runs the members one after another on the same featurized batch (see forward).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from workers.screening.admet.featurize import GraphArrays


@dataclass(slots=True)
class GraphBatch:
    """GraphArrays as tensors on one device."""

    V: Tensor
    E: Tensor
    edge_index: Tensor
    rev_edge_index: Tensor
    batch: Tensor
    size: int

    @staticmethod
    def from_arrays(g: GraphArrays, device: torch.device, pin: bool = False) -> GraphBatch:
        """Tensors on `device`; pin=True stages them in page-locked memory so the copy can run asynchronously."""
        tensors = [torch.from_numpy(a) for a in (g.V, g.E, g.edge_index, g.rev_edge_index, g.batch)]
        if device.type != "cpu":
            if pin:
                tensors = [t.pin_memory() for t in tensors]
            tensors = [t.to(device, non_blocking=pin) for t in tensors]
        V, E, edge_index, rev_edge_index, batch = tensors
        return GraphBatch(V, E, edge_index, rev_edge_index, batch, g.size)


@dataclass(frozen=True, slots=True)
class EnsembleSpec:
    """One ADMET-AI ensemble folder: its checkpoints (sorted, as ADMET-AI loads them) and task columns."""

    name: str
    paths: tuple[Path, ...]
    tasks: tuple[str, ...]


class _Head(nn.Module):
    """One ensemble's output layer and output transform, stacked over its members."""

    scale: Tensor
    mean: Tensor

    def __init__(self, name: str, members: Sequence[Any]) -> None:
        super().__init__()
        self.name = name
        last = [_ffn_linear(m, len(m.predictor.ffn) - 1) for m in members]
        self.W = nn.Parameter(torch.stack([lin.weight.detach() for lin in last]), requires_grad=False)
        self.b = nn.Parameter(torch.stack([lin.bias.detach()[None] for lin in last]), requires_grad=False)
        kinds = {type(m.predictor).__name__ for m in members}
        if len(kinds) != 1:
            raise ValueError(f"ensemble {name} mixes predictor types {sorted(kinds)}")
        self.sigmoid = kinds == {"BinaryClassificationFFN"}
        # Regression members un-scale their outputs (Y * scale + mean, in eval mode); identity transforms get
        # no multiply-add at all rather than a * 1 + 0.
        transforms = [m.predictor.output_transform for m in members]
        self.unscale = any(hasattr(t, "scale") for t in transforms)
        n_tasks = self.W.shape[1]
        if self.unscale:
            self.register_buffer("scale", torch.stack([_as_row(t, "scale", 1.0, n_tasks) for t in transforms]))
            self.register_buffer("mean", torch.stack([_as_row(t, "mean", 0.0, n_tasks) for t in transforms]))

    def forward(self, Z: Tensor) -> Tensor:
        Y = _linear(Z, self.W, self.b)
        if self.sigmoid:
            Y = Y.sigmoid()
        if self.unscale:
            Y = Y * self.scale + self.mean
        return Y.mean(dim=0)


def _hidden_param(k: int, name: str) -> Callable[[Any], Tensor]:
    """Getter of hidden FFN layer k's weight, or its bias as a [1, out] row (the baddbmm broadcast shape)."""

    def get(model: Any) -> Tensor:
        value: Tensor = getattr(_ffn_linear(model, k), name)
        return value if name == "weight" else value[None]

    return get


def _as_row(transform: nn.Module, name: str, default: float, n_tasks: int) -> Tensor:
    value = getattr(transform, name, None)
    return value.detach().reshape(1, n_tasks) if isinstance(value, Tensor) else torch.full((1, n_tasks), default)


class StackedEnsembles(nn.Module):
    """All members of all ensembles; forward returns each ensemble's member-mean predictions, [B, tasks]."""

    def __init__(self, specs: Sequence[EnsembleSpec]) -> None:
        super().__init__()
        from chemprop.models import load_model

        members: list[Any] = []  # chemprop MPNNs (Lightning modules, untyped attributes)
        groups: list[tuple[str, int, int]] = []  # (name, first member, member count)
        paths = [p for s in specs for p in s.paths]
        for spec in specs:
            groups.append((spec.name, len(members), len(spec.paths)))
            for path in spec.paths:
                model = load_model(path, multicomponent=False)
                _check_supported(model, path)
                members.append(model)
        if not members:
            raise ValueError("no checkpoints to load")
        ref = members[0]
        mp = ref.message_passing
        self.depth = int(mp.depth)
        self.d_h = int(mp.W_h.in_features)
        self.norm = float(ref.agg.norm) if hasattr(ref.agg, "norm") else None
        for m, path in zip(members, paths, strict=True):
            same = (
                m.message_passing.depth == self.depth
                and m.message_passing.W_i.weight.shape == mp.W_i.weight.shape
                and m.message_passing.W_h.weight.shape == mp.W_h.weight.shape
                and m.message_passing.W_o.weight.shape == mp.W_o.weight.shape
                and type(m.agg) is type(ref.agg)
                and getattr(m.agg, "norm", None) == getattr(ref.agg, "norm", None)
                and [_ffn_linear(m, k).weight.shape for k in range(len(m.predictor.ffn) - 1)]
                == [_ffn_linear(ref, k).weight.shape for k in range(len(ref.predictor.ffn) - 1)]
            )
            if not same:
                raise ValueError(f"{path}: architecture differs from {paths[0]}; cannot stack")

        def stack(get: Callable[[Any], Tensor]) -> nn.Parameter:
            return nn.Parameter(torch.stack([get(m).detach() for m in members]), requires_grad=False)

        # Stored as nn.Linear stores them ([members, out, in]) and used through a transposed view, so the BLAS
        # call is the X @ W^T (transposed-B) product that nn.Linear makes: same kernel, same rounding.
        self.W_i = stack(lambda m: m.message_passing.W_i.weight)
        self.W_h = stack(lambda m: m.message_passing.W_h.weight)
        self.W_o = stack(lambda m: m.message_passing.W_o.weight)
        self.b_o = stack(lambda m: m.message_passing.W_o.bias[None])
        hidden = range(len(ref.predictor.ffn) - 1)
        self.ffn_W = nn.ParameterList([stack(_hidden_param(k, "weight")) for k in hidden])
        self.ffn_b = nn.ParameterList([stack(_hidden_param(k, "bias")) for k in hidden])
        # The output layers differ in width between ensembles (31 classification vs 10 regression tasks).
        self.groups = groups
        self.heads = nn.ModuleList([_Head(name, members[first : first + count]) for name, first, count in groups])
        self.eval()

    @property
    def n_members(self) -> int:
        return int(self.W_i.shape[0])

    def forward(self, g: GraphBatch, members_per_pass: int | None = None) -> list[Tensor]:
        """Each ensemble's member-mean predictions for the batch, [molecules, tasks] per ensemble.

        members_per_pass bounds how many members share one pass: all of them on a GPU, where wider products
        are free; fewer on a CPU, where a 10-member hidden state of a batch no longer fits in cache and the
        gather/scatter steps become memory-bound. The numbers do not depend on it.
        """
        n = self.n_members
        step = n if members_per_pass is None else max(1, min(members_per_pass, n))
        Z = torch.cat([self._encode(g, lo, min(lo + step, n)) for lo in range(0, n, step)], dim=0)
        if Z.device.type == "cpu" and Z.shape[1] % _CPU_ROW_MULTIPLE:
            Z = torch.cat([Z, Z.new_zeros(n, _CPU_ROW_MULTIPLE - Z.shape[1] % _CPU_ROW_MULTIPLE, Z.shape[2])], dim=1)
        for W, b in zip(self.ffn_W, self.ffn_b, strict=True):
            Z = torch.relu(_linear(Z, W, b))
        return [
            head(Z[first : first + count])[: g.size]
            for head, (_name, first, count) in zip(self.heads, self.groups, strict=True)
        ]

    def _encode(self, g: GraphBatch, lo: int, hi: int) -> Tensor:
        """Message passing and readout of members lo..hi-1: [members, molecules, d_h]."""
        n_members = hi - lo
        src, dst = g.edge_index[0], g.edge_index[1]
        n_atoms = g.V.shape[0]

        # Chemprop's BondMessagePassing.forward, for several members at once ([members, rows, d_h]).
        x = torch.cat([g.V[src], g.E], dim=1)
        H_0 = _linear(x.unsqueeze(0).expand(n_members, -1, -1), self.W_i[lo:hi])
        H = torch.relu(H_0)
        for _ in range(1, self.depth):
            into_atom = _sum_rows(H, dst, n_atoms)
            # Message along u->v: everything arriving at u except what v itself sent (the reverse edge).
            M = into_atom.index_select(1, src) - H.index_select(1, g.rev_edge_index)
            H = torch.relu(H_0 + _linear(M, self.W_h[lo:hi]))
        M_v = _sum_rows(H, dst, n_atoms)
        V = g.V.unsqueeze(0).expand(n_members, -1, -1)
        H_v = torch.relu(_linear(torch.cat((V, M_v), dim=2), self.W_o[lo:hi], self.b_o[lo:hi]))

        # Readout: per-molecule sum over atoms (divided by the norm for NormAggregation).
        Z = _sum_rows(H_v, g.batch, g.size)
        if self.norm is not None:
            Z = Z / self.norm
        return Z


# On CPU a molecule's float32 result would otherwise depend on how many molecules share its batch, because two
# kinds of kernels round differently by position: MKL's sgemm takes another code path for products of fewer than
# ~12 rows (measured: 1-3, 5-7, 9-11 rows differ from the same rows inside a larger product), and ATen's
# vectorized loops (sigmoid, mean) finish a tensor whose size is not a multiple of the vector step with scalar
# code. Message-passing products are padded to >= 16 rows, and the per-molecule head (FFN, sigmoid, unscale,
# member mean) runs on a row count padded to a multiple of 64 (so 5 x rows x tasks is a multiple of any vector
# step), with zero rows that are dropped afterwards. ADMET-AI's own 64-molecule batches are on the same paths.
_MIN_CPU_ROWS = 16
_CPU_ROW_MULTIPLE = 64


def _linear(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """nn.Linear per member: x [members, rows, in], W [members, out, in], b [members, 1, out]."""
    rows = x.shape[1]
    if x.device.type == "cpu" and rows < _MIN_CPU_ROWS:
        x = torch.cat([x, x.new_zeros(x.shape[0], _MIN_CPU_ROWS - rows, x.shape[2])], dim=1)
    # Transposed-B through a view, with the bias folded into the product: the BLAS call F.linear makes.
    y = torch.bmm(x, W.mT) if b is None else torch.baddbmm(b, x, W.mT)
    return y[:, :rows]


def _sum_rows(H: Tensor, index: Tensor, n_out: int) -> Tensor:
    """out[:, index[e]] += H[:, e] in row order: Chemprop's scatter_reduce(sum, include_self=False) sums.

    index_add_ adds the rows in edge order onto zeros, which is the order (and so the rounding) of Chemprop's
    scatter_reduce; on CPU its dim-0 kernel is several times faster, so a one-member pass uses that layout.
    """
    out = H.new_zeros(H.shape[0], n_out, H.shape[2])
    if H.shape[0] == 1:
        out[0].index_add_(0, index, H[0])
    else:
        out.index_add_(1, index, H)
    return out


def _ffn_linear(model: Any, k: int) -> nn.Linear:
    block = model.predictor.ffn[k]
    linear = block[-1]
    assert isinstance(linear, nn.Linear)
    return linear


def _check_supported(model: Any, path: Path) -> None:
    """Refuse checkpoints whose computation the stacked forward would not reproduce."""
    from chemprop.nn import BinaryClassificationFFN, BondMessagePassing, NormAggregation, RegressionFFN
    from chemprop.nn.agg import SumAggregation

    mp = model.message_passing
    problems = []
    if type(mp) is not BondMessagePassing:
        problems.append(f"message passing {type(mp).__name__}")
    if mp.undirected or mp.W_d is not None or mp.W_i.bias is not None or mp.W_h.bias is not None:
        problems.append("undirected/extra-descriptor/biased message passing")
    if not isinstance(mp.V_d_transform, nn.Identity):
        problems.append("atom descriptor transform")
    gt = mp.graph_transform
    if not isinstance(gt, nn.Identity) and not (
        isinstance(gt.V_transform, nn.Identity) and isinstance(gt.E_transform, nn.Identity)
    ):
        problems.append("graph feature scaling")
    if not isinstance(mp.tau, nn.ReLU):
        problems.append(f"activation {type(mp.tau).__name__}")
    if type(model.agg) not in (NormAggregation, SumAggregation):
        problems.append(f"aggregation {type(model.agg).__name__}")
    if not isinstance(model.bn, nn.Identity) or not isinstance(model.X_d_transform, nn.Identity):
        problems.append("batch norm or extra molecule descriptors")
    if type(model.predictor) not in (BinaryClassificationFFN, RegressionFFN):
        problems.append(f"predictor {type(model.predictor).__name__}")
    for k, block in enumerate(model.predictor.ffn):
        acts = [m for m in block if not isinstance(m, nn.Linear | nn.Dropout)]
        if (k == 0 and acts) or (k > 0 and (len(acts) != 1 or not isinstance(acts[0], nn.ReLU))):
            problems.append("FFN layout")
    if problems:
        raise ValueError(f"{path}: unsupported Chemprop checkpoint ({'; '.join(problems)})")
