"""Standardization of one molecule to its parent form, reporting which steps actually changed it.

The steps are RDKit's MolStandardize ones (the ChEMBL/MolVS order: cleanup, fragment parent, charge parent,
optional canonical tautomer). The step objects are built once per Standardizer because it runs per molecule over
libraries of millions: rdMolStandardize.Cleanup() builds a new Normalizer (parsing its transforms) on every call,
which costs about half its time.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

CLEANUP = "cleanup"
FRAGMENTS_REMOVED = "fragments_removed"
NEUTRALIZED = "neutralized"
TAUTOMER = "tautomer"


@dataclass(frozen=True)
class StandardizeOptions:
    cleanup: bool = True  # rdMolStandardize.Cleanup: normalize functional groups, reionize, disconnect metals
    largest_fragment: bool = True  # keep the largest organic fragment
    neutralize: bool = True  # rdMolStandardize.Uncharger
    tautomer: bool = False  # canonical tautomer; slow (hundreds of molecules/s), so only when asked


class StandardizeError(ValueError):
    """A molecule that cannot be standardized; the message is shown to users as the item's reason."""


class Standardizer:
    """Callable that turns a sanitized molecule into its standardized parent; build once, call per molecule."""

    def __init__(self, options: StandardizeOptions) -> None:
        self.options = options
        self._metals = rdMolStandardize.MetalDisconnector()
        self._normalizer = rdMolStandardize.Normalizer()
        self._reionizer = rdMolStandardize.Reionizer()
        self._fragments = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
        self._uncharger = rdMolStandardize.Uncharger(canonicalOrder=True)
        self._tautomers = rdMolStandardize.TautomerEnumerator() if options.tautomer else None

    def __call__(self, mol: Chem.Mol) -> tuple[Chem.Mol, list[str]]:
        """Returns the standardized parent (a new object; the input is untouched) and the ordered changes made.

        Changes come from "cleanup", "fragments_removed", "neutralized", "tautomer"; a step that leaves the
        canonical SMILES as it was is not listed. Raises StandardizeError when RDKit fails or no heavy atom is left.
        """
        # Millions of molecules go through here: RDKit's per-molecule warnings would flood the worker's log.
        with rdBase.BlockLogs():
            try:
                return self._standardize(mol)
            except StandardizeError:
                raise
            except Exception as exc:  # RDKit maps its C++ errors onto assorted Python types
                raise StandardizeError(f"standardization failed: {_first_line(exc)}") from None

    def _standardize(self, mol: Chem.Mol) -> tuple[Chem.Mol, list[str]]:
        changes: list[str] = []
        # Explicit hydrogens (as SDF files carry them) are not a difference any step should be credited with.
        current = Chem.RemoveHs(mol)
        smiles = Chem.MolToSmiles(current)

        if self.options.cleanup:
            # Same steps as rdMolStandardize.Cleanup, with the step objects reused (same output on NCI's 5K set).
            current = self._metals.Disconnect(current)
            self._normalizer.normalizeInPlace(current)
            self._reionizer.reionizeInPlace(current)
            Chem.AssignStereochemistry(current, cleanIt=True, force=True)
            smiles = _record(current, smiles, CLEANUP, changes)

        # A single fragment has nothing to drop; the SMILES already says so, which spares a chooser call.
        if self.options.largest_fragment and "." in smiles:
            current = self._fragments.choose(current)
            smiles = _record(current, smiles, FRAGMENTS_REMOVED, changes)

        if self.options.neutralize and _has_charged_atom(current):
            current = self._uncharger.uncharge(current)
            smiles = _record(current, smiles, NEUTRALIZED, changes)

        if self._tautomers is not None:
            current = self._tautomers.Canonicalize(current)
            smiles = _record(current, smiles, TAUTOMER, changes)

        if current.GetNumHeavyAtoms() == 0:
            raise StandardizeError("no heavy atoms left after standardization")
        return current, changes


def inchikey(mol: Chem.Mol) -> str | None:
    """Standard InChIKey, or None where the InChI library cannot make one (logs nothing)."""
    with rdBase.BlockLogs():
        try:
            key = Chem.MolToInchiKey(mol)
        except Exception:  # the InChI library rejects some valid RDKit molecules (e.g. unusual valences)
            return None
    return key or None


def _record(mol: Chem.Mol, previous: str, change: str, changes: list[str]) -> str:
    smiles = Chem.MolToSmiles(mol)
    if smiles != previous:
        changes.append(change)
    return smiles


def _has_charged_atom(mol: Chem.Mol) -> bool:
    # Net charge is not enough: a zwitterion is neutral overall and still has charges to remove.
    return any(atom.GetFormalCharge() for atom in mol.GetAtoms())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
