"""Rule-based filters (drug-likeness rules, structural alerts, user SMARTS, property ranges) for one molecule.

Everything RDKit has to parse (FilterCatalogs, SMARTS) is built once in FilterSet's constructor; `check` only
matches and compares. Properties are computed once per molecule by the caller (`properties`) and shared with the
scoring and the output, so `check` never recomputes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import get_args

from rdkit import Chem, rdBase
from rdkit.Chem import rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from workers.screening.params import FilterFamily, RangeProperty

# The parameter model's Literals are the one list: the API validates against it, the filters implement it.
FAMILIES: tuple[str, ...] = get_args(FilterFamily)
PROPERTY_NAMES: tuple[str, ...] = get_args(RangeProperty)

_CATALOGS = {
    "pains_a": FilterCatalogParams.FilterCatalogs.PAINS_A,
    "pains_b": FilterCatalogParams.FilterCatalogs.PAINS_B,
    "pains_c": FilterCatalogParams.FilterCatalogs.PAINS_C,
    "brenk": FilterCatalogParams.FilterCatalogs.BRENK,
    "nih": FilterCatalogParams.FilterCatalogs.NIH,
}
# Lipinski's rule of five: a compound is flagged only with more than one violation (Lipinski et al. 1997).
_RO5_LIMITS = (("mw", 500.0), ("clogp", 5.0), ("hbd", 5.0), ("hba", 10.0))
_RO5_MAX_VIOLATIONS = 1
# Veber et al. 2002: each limit is a requirement on its own.
_VEBER_LIMITS = (("rotatable_bonds", 10.0), ("tpsa", 140.0))
# Decimals shown in reasons; the properties not listed are counts and print as integers.
_DECIMALS = {"mw": 1, "clogp": 2, "tpsa": 1, "qed": 3, "fsp3": 3}
_NO_RANGES: Mapping[str, tuple[float | None, float | None]] = MappingProxyType({})


class FilterConfigError(ValueError):
    """A filter configuration that cannot be used: bad SMARTS, unknown family or property (named in the message)."""


class FilterSet:
    """The filters chosen for a job; build once, then `check` each molecule."""

    def __init__(
        self,
        families: Sequence[str],
        include_smarts: Sequence[str] = (),
        exclude_smarts: Sequence[str] = (),
        ranges: Mapping[str, tuple[float | None, float | None]] = _NO_RANGES,
    ) -> None:
        unknown = [family for family in families if family not in FAMILIES]
        if unknown:
            raise FilterConfigError(f"unknown filter family {unknown[0]!r} (known: {', '.join(FAMILIES)})")
        self.families: tuple[str, ...] = tuple(dict.fromkeys(families))
        self._catalogs = {family: _catalog(family) for family in self.families if family in _CATALOGS}
        self._include = [(pattern, _compile(pattern, "include_smarts")) for pattern in include_smarts]
        self._exclude = [(pattern, _compile(pattern, "exclude_smarts")) for pattern in exclude_smarts]
        self._ranges = [_checked_range(name, bounds) for name, bounds in ranges.items()]

    def check(self, mol: Chem.Mol, props: Mapping[str, float]) -> list[str]:
        """Human-readable reasons the molecule fails, in configuration order; [] when it passes everything."""
        reasons: list[str] = []
        for family in self.families:
            if family == "lipinski":
                reasons.extend(_lipinski(props))
            elif family == "veber":
                reasons.extend(_veber(props))
            else:
                descriptions = {entry.GetDescription() for entry in self._catalogs[family].GetMatches(mol)}
                reasons.extend(f"{family}: {description}" for description in sorted(descriptions))
        if self._include and not any(mol.HasSubstructMatch(query) for _, query in self._include):
            reasons.append(f"include_smarts: matches none of {len(self._include)} patterns")
        reasons.extend(
            f"exclude_smarts: matches {pattern!r}" for pattern, query in self._exclude if mol.HasSubstructMatch(query)
        )
        for name, low, high in self._ranges:
            value = props[name]
            if low is not None and value < low:
                reasons.append(f"range {name}: {_show(name, value)} < {low:g}")
            if high is not None and value > high:
                reasons.append(f"range {name}: {_show(name, value)} > {high:g}")
        return reasons


def properties(mol: Chem.Mol, known: Mapping[str, float] | None = None) -> dict[str, float]:
    """The PROPERTY_NAMES values except qed, which the caller supplies (it comes from a separate, slower model).
    `known` values (same RDKit functions, computed by the caller already) are taken as they are: Crippen cLogP
    alone is ~60 % of this function's cost."""
    if known is not None and all(name in known for name in _BASE_NAMES):
        base = {name: float(known[name]) for name in _BASE_NAMES}
    else:
        clogp, _molar_refractivity = rdMolDescriptors.CalcCrippenDescriptors(mol)
        base = {
            # Average molecular weight, as Lipinski's rule uses; Descriptors.MolWt wraps this same function.
            "mw": rdMolDescriptors._CalcMolWt(mol),
            "clogp": clogp,
            "hbd": float(rdMolDescriptors.CalcNumHBD(mol)),
            "hba": float(rdMolDescriptors.CalcNumHBA(mol)),
            "tpsa": rdMolDescriptors.CalcTPSA(mol),
            "rotatable_bonds": float(rdMolDescriptors.CalcNumRotatableBonds(mol)),
        }
    return {
        **base,
        "heavy_atoms": float(mol.GetNumHeavyAtoms()),
        "rings": float(rdMolDescriptors.CalcNumRings(mol)),
        "aromatic_rings": float(rdMolDescriptors.CalcNumAromaticRings(mol)),
        "fsp3": rdMolDescriptors.CalcFractionCSP3(mol),
        "formal_charge": float(Chem.GetFormalCharge(mol)),
    }


_BASE_NAMES = ("mw", "clogp", "hbd", "hba", "tpsa", "rotatable_bonds")


def _lipinski(props: Mapping[str, float]) -> list[str]:
    violations = [
        f"{name} {_show(name, props[name])} > {limit:g}" for name, limit in _RO5_LIMITS if props[name] > limit
    ]
    if len(violations) <= _RO5_MAX_VIOLATIONS:
        return []
    return [f"lipinski: {len(violations)} violations ({'; '.join(violations)})"]


def _veber(props: Mapping[str, float]) -> list[str]:
    return [
        f"veber: {name} {_show(name, props[name])} > {limit:g}" for name, limit in _VEBER_LIMITS if props[name] > limit
    ]


def _catalog(family: str) -> FilterCatalog:
    params = FilterCatalogParams()
    params.AddCatalog(_CATALOGS[family])
    return FilterCatalog(params)


def _compile(pattern: str, option: str) -> Chem.Mol:
    with rdBase.BlockLogs():  # the error is reported through FilterConfigError, not RDKit's log
        query = Chem.MolFromSmarts(pattern) if pattern.strip() else None
    if query is None:
        raise FilterConfigError(f"{option}: invalid SMARTS {pattern!r}")
    return query


def _checked_range(name: str, bounds: tuple[float | None, float | None]) -> tuple[str, float | None, float | None]:
    if name not in PROPERTY_NAMES:
        raise FilterConfigError(f"range: unknown property {name!r} (known: {', '.join(PROPERTY_NAMES)})")
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise FilterConfigError(f"range {name}: min {low:g} is greater than max {high:g}")
    return name, low, high


def _show(name: str, value: float) -> str:
    decimals = _DECIMALS.get(name)
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:.0f}"
