"""Per-compound stage of the screening pipeline: parse, sanitize, standardize, describe, filter.

This path sees 10^6-10^7 molecules per job, so per-item work is kept to what the result needs: QED's property
vector is computed once and its MW/cLogP/TPSA/HBD/rotatable-bond values are reused for the result columns (they
are the very same RDKit functions), and QED's 116 structural alerts are matched by one FilterCatalog call instead
of 116 Python-level substructure calls. tests/screening/test_pipeline.py checks both against RDKit's own code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import QED, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogEntry, SmartsMatcher

from core.enums import ItemErrorCode
from workers.plugin import Item
from workers.screening.chem.filters import FilterSet, properties
from workers.screening.chem.standardize import StandardizeError, StandardizeOptions, Standardizer, inchikey
from workers.screening.params import ScreeningParams
from workers.screening.parsers import snippet

_STRICT_ROTORS = rdMolDescriptors.NumRotatableBondsOptions.Strict  # what QED uses, and RDKit's default
_LOG_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
_MESSAGE_CHARS = 300
MAX_PROPERTIES = 100  # input fields carried per compound (SDF data items, extra CSV columns)
MAX_PROPERTY_CHARS = 2000
# Columns later stages fill; every row carries every key so a shard's rows share one column list (COPY).
_OPTIONAL: dict[str, Any] = dict.fromkeys(
    ("similarity", "nearest_reference", "activity", "activity_std", "activity_tasks", "admet")
)


@dataclass(slots=True)
class Prepared:
    """A compound that passed the per-item stage: its result row so far and its standardized molecule."""

    row: dict[str, Any]
    mol: Chem.Mol


Failure = tuple[str, str]  # (ItemErrorCode value, message)


class Preparer:
    """Built once per job's parameters (standardizer, filter catalogs); called per compound."""

    def __init__(self, params: ScreeningParams, qed_alerts: FilterCatalog) -> None:
        s = params.standardize
        self._standardizer = (
            Standardizer(StandardizeOptions(True, s.largest_fragment, s.neutralize, s.tautomer)) if s.enabled else None
        )
        f = params.filters
        ranges: dict[str, tuple[float | None, float | None]] = {name: (r.min, r.max) for name, r in f.ranges.items()}
        self._filters = FilterSet(f.families, f.include_smarts, f.exclude_smarts, ranges)
        self._drop = f.mode == "drop"
        self._qed_alerts = qed_alerts

    def __call__(self, item: Item) -> Prepared | Failure:
        if item.error is not None:
            return item.error
        payload = item.payload
        mol_or_failure = _parse(payload)
        if isinstance(mol_or_failure, tuple):
            return mol_or_failure
        mol = mol_or_failure
        changes: list[str] = []
        if self._standardizer is not None:
            try:
                mol, changes = self._standardizer(mol)
            except StandardizeError as exc:
                return ItemErrorCode.STANDARDIZE_ERROR.value, _clip(str(exc))
        row = {**_OPTIONAL, **self._describe(item, payload.get("smiles"), mol)}
        row["standardization"] = ";".join(changes) or None
        props = properties(mol, row)  # reuses the descriptors just computed for the row
        props["qed"] = row["qed"]
        row["heavy_atoms"] = int(props["heavy_atoms"])
        reasons = self._filters.check(mol, props)
        if reasons and self._drop:
            return ItemErrorCode.FILTERED.value, _clip("; ".join(reasons))
        row["passes_filters"] = not reasons
        row["alert_count"] = len(reasons)
        row["alerts"] = "; ".join(reasons) or None
        row["properties"] = _carried(payload.get("props"))
        return Prepared(row, mol)

    def _describe(self, item: Item, smiles: str | None, mol: Chem.Mol) -> dict[str, Any]:
        props = self._qed_properties(mol)
        qed = QED.qed(mol, qedProperties=props)
        hba = rdMolDescriptors.CalcNumHBA(mol)  # Lipinski.NumHAcceptors; QED's HBA uses its own patterns
        violations = (props.MW > 500) + (props.ALOGP > 5) + (props.HBD > 5) + (hba > 10)
        return {
            "item_index": item.index,
            "item_key": item.key,
            "input_smiles": smiles,
            "canonical_smiles": Chem.MolToSmiles(mol),
            "inchikey": inchikey(mol),
            "mw": props.MW,
            "clogp": props.ALOGP,
            "hbd": props.HBD,
            "hba": hba,
            "tpsa": props.PSA,
            "rotatable_bonds": props.ROTB,
            "qed": qed,
            "lipinski_violations": int(violations),
        }

    def _qed_properties(self, mol: Chem.Mol) -> Any:
        """QED.properties(mol) for a molecule without explicit H atoms, computed the same way but faster."""
        return QED.QEDproperties(
            MW=rdMolDescriptors._CalcMolWt(mol),  # Descriptors.MolWt
            ALOGP=rdMolDescriptors.CalcCrippenDescriptors(mol)[0],  # Crippen.MolLogP
            HBA=sum(len(mol.GetSubstructMatches(pattern)) for pattern in QED.Acceptors),
            HBD=rdMolDescriptors.CalcNumHBD(mol),  # Lipinski.NumHDonors
            PSA=rdMolDescriptors.CalcTPSA(mol),
            ROTB=rdMolDescriptors.CalcNumRotatableBonds(mol, _STRICT_ROTORS),
            AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings))),
            ALERTS=len(self._qed_alerts.GetMatches(mol)),
        )


def qed_alert_catalog() -> FilterCatalog:
    """QED's structural alerts, taken from RDKit's own QED module so they follow its version."""
    catalog = FilterCatalog()
    for i, smarts in enumerate(QED.StructuralAlertSmarts):
        catalog.AddEntry(FilterCatalogEntry(f"qed-alert-{i}", SmartsMatcher(f"qed-alert-{i}", smarts, 1)))
    return catalog


def _parse(payload: dict[str, Any]) -> Chem.Mol | Failure:
    smiles = payload.get("smiles")
    if smiles is not None:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            return ItemErrorCode.PARSE_ERROR.value, _smiles_error(smiles)
    elif "molblock" in payload:
        mol = Chem.MolFromMolBlock(payload["molblock"], sanitize=False, removeHs=False)
        if mol is None:
            return ItemErrorCode.PARSE_ERROR.value, _molblock_error(payload["molblock"])
    else:
        return ItemErrorCode.PROCESSING_ERROR.value, "item has neither a SMILES nor a molfile block"
    if mol.GetNumAtoms() == 0:
        return ItemErrorCode.EMPTY_RECORD.value, "the record contains no atoms"
    try:
        Chem.SanitizeMol(mol)
    except Chem.MolSanitizeException as exc:
        return ItemErrorCode.SANITIZE_ERROR.value, _clip(str(exc))
    if mol.GetNumHeavyAtoms() != mol.GetNumAtoms():
        # Same as MolFromSmiles' default; explicit H atoms would otherwise count as rotor ends and appear
        # in the canonical SMILES.
        mol = Chem.RemoveHs(mol)
    return mol


def _carried(props: Any) -> dict[str, str] | None:
    if not props:
        return None
    return {str(k)[:200]: str(v)[:MAX_PROPERTY_CHARS] for k, v in list(props.items())[:MAX_PROPERTIES]}


def _clip(message: str) -> str:
    return snippet(message, _MESSAGE_CHARS)


def _smiles_error(smiles: str) -> str:
    """RDKit's own explanation, captured by parsing again (failure path only) and stripped of echoes."""
    with rdBase.CaptureErrorLog() as capture:
        Chem.MolFromSmiles(smiles, sanitize=False)
    parts: list[str] = []
    for raw in capture.messages.splitlines():
        line = _LOG_PREFIX.sub("", raw).strip()
        # Skip the caret picture (an excerpt of the input, then ~~~^) and the closing line repeating the input.
        if not line or line in smiles or set(line) <= {"~", "^"} or "Failed parsing SMILES" in line:
            continue
        if parts:
            line = line.removeprefix("SMILES Parse Error: ")
        parts.append(line.replace(smiles, snippet(smiles)).rstrip(":"))
    return _clip("; ".join(parts) or f"SMILES could not be parsed: {snippet(smiles)}")


def _molblock_error(molblock: str) -> str:
    if "M  END" not in molblock:
        return "molfile record could not be parsed: it has no 'M  END' line (truncated record?)"
    return "molfile record could not be parsed (malformed counts, atom or bond lines)"
