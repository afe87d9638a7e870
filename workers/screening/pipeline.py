"""RDKit pipeline of the first screening slice: parse, sanitize, canonical SMILES, physchem descriptors, QED.

The only module of the screening domain that imports RDKit; the plug-in loads it lazily in the worker process.
This path sees 10^6-10^7 molecules per job, so per-item work is kept to what the result needs: QED's property
vector is computed once and its MW/cLogP/TPSA/HBD/rotatable-bond values are reused for the result columns (they
are the very same RDKit functions), and QED's 116 structural alerts are matched by one FilterCatalog call instead
of 116 Python-level substructure calls. tests/screening/test_pipeline.py checks both against RDKit's own code.
"""

from __future__ import annotations

import hashlib
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy
import rdkit
from pydantic import BaseModel
from rdkit import Chem, rdBase
from rdkit.Chem import QED, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogEntry, SmartsMatcher

from core.enums import ItemErrorCode
from workers.plugin import BatchOutcome, Item, ItemFailure, JobContext, ModelInfo
from workers.screening.parsers import as_params, snippet

MODEL_NAME = "rdkit-descriptors"
_STRICT_ROTORS = rdMolDescriptors.NumRotatableBondsOptions.Strict  # what QED uses, and RDKit's default
_LOG_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\] ")
_MESSAGE_CHARS = 300

_Outcome = dict[str, Any] | tuple[str, str]


class ScreeningPipeline:
    """Loaded once per worker process; holds nothing per job."""

    def __init__(self) -> None:
        source = Path(__file__).read_bytes()
        self.model = ModelInfo(MODEL_NAME, rdkit.__version__, hashlib.sha256(source).hexdigest())
        self.packages = {"rdkit": rdkit.__version__, "numpy": numpy.__version__, "python": platform.python_version()}
        self._alerts = _alert_catalog()

    def run(self, items: Sequence[Item], params: BaseModel, context: JobContext | None = None) -> BatchOutcome:
        as_params(params)  # rank_by has one value in this slice; validating keeps a bad payload from passing
        results: list[dict[str, Any]] = []
        errors: list[ItemFailure] = []
        start = time.perf_counter()
        # One log block per batch: RDKit's per-molecule chatter would flood the worker log; failures are
        # reported as item errors, with RDKit's message captured on the failure path only.
        with rdBase.BlockLogs():
            for item in items:
                if item.error is not None:
                    errors.append(ItemFailure(item.index, item.key, item.error[0], item.error[1]))
                    continue
                try:
                    outcome = self._process(item)
                except Exception as exc:  # a bad item never fails its batch
                    outcome = (ItemErrorCode.PROCESSING_ERROR.value, _clip(f"{type(exc).__name__}: {exc}"))
                if isinstance(outcome, dict):
                    results.append(outcome)
                else:
                    errors.append(ItemFailure(item.index, item.key, outcome[0], outcome[1]))
        timings = {"compute_s": time.perf_counter() - start}
        return BatchOutcome(results, errors, self.model, "cpu", dict(self.packages), timings)

    def _process(self, item: Item) -> _Outcome:
        payload = item.payload
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
        return self._describe(item, smiles, mol)

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
            "mw": props.MW,
            "clogp": props.ALOGP,
            "hbd": props.HBD,
            "hba": hba,
            "tpsa": props.PSA,
            "rotatable_bonds": props.ROTB,
            "qed": qed,
            "lipinski_violations": int(violations),
            "score": qed,  # rank_by="qed"
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
            ALERTS=len(self._alerts.GetMatches(mol)),
        )


def _alert_catalog() -> FilterCatalog:
    """QED's structural alerts, taken from RDKit's own QED module so they follow its version."""
    catalog = FilterCatalog()
    for i, smarts in enumerate(QED.StructuralAlertSmarts):
        catalog.AddEntry(FilterCatalogEntry(f"qed-alert-{i}", SmartsMatcher(f"qed-alert-{i}", smarts, 1)))
    return catalog


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
