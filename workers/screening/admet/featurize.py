"""Molecular graphs for the ADMET-AI checkpoints, bit for bit what Chemprop's default featurizer builds.

Chemprop's SimpleMoleculeMolGraphFeaturizer fills one numpy vector per atom and per bond in Python (~0.7 ms per
drug-sized molecule here); this reads the RDKit properties into plain tuples in one pass per molecule and does
the multi-hot encoding once per batch with numpy (~0.3-0.45 ms; the RDKit property calls are most of it).
The lookup tables are taken from Chemprop's own featurizer objects, so a Chemprop release that changes a choice
list changes ours with it; tests/screening_admet compares the arrays with Chemprop's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem


@dataclass(slots=True)
class GraphArrays:
    """A batch of molecular graphs in Chemprop's BatchMolGraph layout (directed edges, reverse-edge map)."""

    V: np.ndarray  # [atoms, atom_fdim] float32
    E: np.ndarray  # [directed bonds, bond_fdim] float32
    edge_index: np.ndarray  # [2, directed bonds] int64: source row, then target row
    rev_edge_index: np.ndarray  # [directed bonds] int64
    batch: np.ndarray  # [atoms] int64: the molecule each atom row belongs to
    size: int  # molecules

    @staticmethod
    def concat(parts: Sequence[GraphArrays]) -> GraphArrays:
        """Join batches: atom, edge and molecule indices of each part are shifted past the parts before it."""
        if len(parts) == 1:
            return parts[0]
        atoms = np.cumsum([0] + [p.V.shape[0] for p in parts])
        edges = np.cumsum([0] + [p.E.shape[0] for p in parts])
        mols = np.cumsum([0] + [p.size for p in parts])
        return GraphArrays(
            np.concatenate([p.V for p in parts]),
            np.concatenate([p.E for p in parts]),
            np.concatenate([p.edge_index + atoms[k] for k, p in enumerate(parts)], axis=1),
            np.concatenate([p.rev_edge_index + edges[k] for k, p in enumerate(parts)]),
            np.concatenate([p.batch + mols[k] for k, p in enumerate(parts)]),
            int(mols[-1]),
        )


class _Choices:
    """One multi-hot sub-feature: value -> column, unknown values -> the pad column after the choices."""

    def __init__(self, choices: dict[int, int], offset: int) -> None:
        self.offset = offset
        self.width = len(choices) + 1
        keys = [int(k) for k in choices]
        # One slot past each end catches every out-of-range value after clipping, so it lands on the pad column.
        self._lo = min(keys) - 1
        table = np.full(max(keys) - self._lo + 2, len(choices), dtype=np.int64)
        for key, column in choices.items():
            table[int(key) - self._lo] = column
        self._table = table

    def columns(self, values: np.ndarray) -> np.ndarray:
        slot = np.clip(values - self._lo, 0, len(self._table) - 1)
        return self._table[slot] + self.offset


class GraphFeaturizer:
    """Chemprop v2's default molecule featurizer (MultiHotAtomFeaturizer.v2 + MultiHotBondFeaturizer)."""

    def __init__(self) -> None:
        # Imported here: instances are pickled to the worker processes, which then need numpy and RDKit only.
        from chemprop.featurizers import MultiHotAtomFeaturizer, MultiHotBondFeaturizer

        atom = MultiHotAtomFeaturizer.v2()
        bond = MultiHotBondFeaturizer()
        self.atom_fdim = len(atom)
        self.bond_fdim = len(bond)
        subfeats: list[dict[int, int]] = [
            atom.atomic_nums,
            atom.degrees,
            atom.formal_charges,
            atom.chiral_tags,
            atom.num_Hs,
            {int(k): v for k, v in atom.hybridizations.items()},
        ]
        self._atom_choices: list[_Choices] = []
        offset = 0
        for choices in subfeats:
            self._atom_choices.append(_Choices(choices, offset))
            offset += len(choices) + 1
        self._aromatic_col = offset
        self._mass_col = offset + 1
        if offset + 2 != self.atom_fdim:
            raise RuntimeError(f"unexpected Chemprop atom featurizer layout ({offset + 2} != {self.atom_fdim})")

        # Chemprop sets the bond-type bit at 1 + index; an unknown type would set 1 + len(types), which is the
        # conjugation column and is overwritten right after, so an unknown type leaves every type bit at 0.
        type_values = [int(t) for t in bond.bond_types]
        self._bond_type_col = np.full(max(type_values) + 2, -1, dtype=np.int64)  # -1: no bit; last slot: unknown
        for i, t in enumerate(type_values):
            self._bond_type_col[t] = 1 + i
        self._conj_col = 1 + len(bond.bond_types)
        self._ring_col = self._conj_col + 1
        self._stereo = _Choices({int(s): i for i, s in enumerate(bond.stereo)}, self._ring_col + 1)
        if self._stereo.offset + self._stereo.width != self.bond_fdim:
            raise RuntimeError("unexpected Chemprop bond featurizer layout")

    def __call__(self, mols: Sequence[Chem.Mol]) -> GraphArrays:
        atom_rows: list[tuple[int, int, int, int, int, int, bool, float]] = []
        bond_rows: list[tuple[int, int, int, bool, bool, int]] = []
        atoms_per_mol = np.empty(len(mols), dtype=np.int64)
        bonds_per_mol = np.empty(len(mols), dtype=np.int64)
        for i, mol in enumerate(mols):
            n_atoms = mol.GetNumAtoms()
            if n_atoms:
                atom_rows.extend(
                    (
                        a.GetAtomicNum(),
                        a.GetTotalDegree(),
                        a.GetFormalCharge(),
                        int(a.GetChiralTag()),
                        a.GetTotalNumHs(),
                        int(a.GetHybridization()),
                        a.GetIsAromatic(),
                        a.GetMass(),
                    )
                    for a in mol.GetAtoms()
                )
            else:
                # Chemprop gives an atomless molecule one all-zero atom row (so it still has a readout).
                atom_rows.append((-1, -1, -1, -1, -1, -1, False, 0.0))
            atoms_per_mol[i] = max(n_atoms, 1)
            bond_rows.extend(
                (
                    b.GetBeginAtomIdx(),
                    b.GetEndAtomIdx(),
                    int(b.GetBondType()),
                    b.GetIsConjugated(),
                    b.IsInRing(),
                    int(b.GetStereo()),
                )
                for b in mol.GetBonds()
            )
            bonds_per_mol[i] = mol.GetNumBonds()
        return self._assemble(atom_rows, bond_rows, atoms_per_mol, bonds_per_mol, mols)

    def _assemble(
        self,
        atom_rows: list[tuple[int, int, int, int, int, int, bool, float]],
        bond_rows: list[tuple[int, int, int, bool, bool, int]],
        atoms_per_mol: np.ndarray,
        bonds_per_mol: np.ndarray,
        mols: Sequence[Chem.Mol],
    ) -> GraphArrays:
        n_atoms = len(atom_rows)
        V = np.zeros((n_atoms, self.atom_fdim), dtype=np.float32)
        if n_atoms:
            ints = np.array([r[:6] for r in atom_rows], dtype=np.int64)
            rows = np.arange(n_atoms)
            real = ints[:, 0] >= 0
            for k, choices in enumerate(self._atom_choices):
                V[rows[real], choices.columns(ints[real, k])] = 1.0
            V[:, self._aromatic_col] = np.array([r[6] for r in atom_rows], dtype=np.float32)
            # Chemprop computes 0.01 * mass in float64 and stores it in a float32 array: same rounding here.
            V[:, self._mass_col] = (0.01 * np.array([r[7] for r in atom_rows], dtype=np.float64)).astype(np.float32)

        n_bonds = len(bond_rows)
        E = np.zeros((2 * n_bonds, self.bond_fdim), dtype=np.float32)
        edge_index = np.empty((2, 2 * n_bonds), dtype=np.int64)
        if n_bonds:
            b = np.array(bond_rows, dtype=np.int64)
            features = np.zeros((n_bonds, self.bond_fdim), dtype=np.float32)
            rows = np.arange(n_bonds)
            type_col = self._bond_type_col[np.clip(b[:, 2], 0, len(self._bond_type_col) - 1)]
            known = type_col >= 0
            features[rows[known], type_col[known]] = 1.0
            features[:, self._conj_col] = b[:, 3]
            features[:, self._ring_col] = b[:, 4]
            features[rows, self._stereo.columns(b[:, 5])] = 1.0
            E[0::2] = features
            E[1::2] = features
            # Atom indices are per molecule; shift them by the atoms of the molecules before.
            atom_offset = np.repeat(np.cumsum(atoms_per_mol) - atoms_per_mol, bonds_per_mol)
            u = b[:, 0] + atom_offset
            v = b[:, 1] + atom_offset
            edge_index[0, 0::2] = u
            edge_index[0, 1::2] = v
            edge_index[1, 0::2] = v
            edge_index[1, 1::2] = u
        # Each bond contributes the directed pair (u->v, v->u) at rows (2k, 2k+1); each one's reverse is the other.
        rev_edge_index = np.arange(2 * n_bonds, dtype=np.int64).reshape(-1, 2)[:, ::-1].ravel().copy()
        batch = np.repeat(np.arange(len(mols), dtype=np.int64), atoms_per_mol)
        return GraphArrays(V, E, edge_index, rev_edge_index, batch, len(mols))
