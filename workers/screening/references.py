"""A job's reference actives, prepared exactly like its library: standardized with the job's options (a salt form
of a reference must match its parent in the library), then fingerprinted."""

from __future__ import annotations

from rdkit import Chem, rdBase

from workers.screening.chem.similarity import Reference, ReferenceError, ReferenceSet
from workers.screening.chem.standardize import StandardizeError, StandardizeOptions, Standardizer
from workers.screening.params import ScreeningParams


def reference_set(p: ScreeningParams) -> ReferenceSet:
    """Raises ReferenceError naming the first reference that does not parse or standardize."""
    s = p.similarity
    assert s is not None
    refs = [Reference(r.id or f"ref{i + 1}", r.smiles) for i, r in enumerate(s.references)]
    if p.standardize.enabled:
        o = p.standardize
        standardizer = Standardizer(StandardizeOptions(True, o.largest_fragment, o.neutralize, o.tautomer))
        refs = [_standardized(ref, standardizer) for ref in refs]
    return ReferenceSet(refs, s.radius, s.n_bits)


def _standardized(ref: Reference, standardizer: Standardizer) -> Reference:
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(ref.smiles)
        if mol is None:
            raise ReferenceError(f"reference {ref.key!r} ({ref.smiles[:80]!r}) is not a valid SMILES")
        try:
            parent, _changes = standardizer(mol)
        except StandardizeError as exc:
            raise ReferenceError(f"reference {ref.key!r} could not be standardized: {exc}") from exc
    return Reference(ref.key, Chem.MolToSmiles(parent))
