"""Parameters of a screening job. Light: imported by the API to validate submissions (no RDKit here).

Chemistry inside the parameters (reference SMILES, user SMARTS) can only be checked by RDKit, which the API
never imports: the ingest task checks them before any shard is made and fails the job with INVALID_PARAMETERS
and the culprit named (see workers/screening/plugin.py `check_params`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

InputFormat = Literal["auto", "smi", "csv", "tsv", "sdf", "jsonl"]
FilterFamily = Literal["lipinski", "veber", "pains_a", "pains_b", "pains_c", "brenk", "nih"]
RangeProperty = Literal[
    "mw",
    "clogp",
    "hbd",
    "hba",
    "tpsa",
    "rotatable_bonds",
    "heavy_atoms",
    "qed",
    "rings",
    "aromatic_rings",
    "fsp3",
    "formal_charge",
]

DEFAULT_FAMILIES: tuple[FilterFamily, ...] = ("lipinski", "veber", "pains_a", "pains_b", "pains_c", "brenk")
MAX_REFERENCES = 10_000
MAX_PATTERNS = 200
# ADMET-AI endpoints that are liabilities when high (probabilities in [0, 1]); the default ranking penalties.
DEFAULT_ADMET_PENALTIES = {"hERG": 0.2, "AMES": 0.1, "DILI": 0.1, "ClinTox": 0.1}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StandardizeParams(_Strict):
    enabled: bool = Field(default=True, description="Run RDKit MolStandardize (cleanup) before anything else.")
    largest_fragment: bool = Field(default=True, description="Keep the largest organic fragment (strip salts).")
    neutralize: bool = Field(default=True, description="Neutralize charges where a neutral form exists.")
    tautomer: bool = Field(default=False, description="Canonical tautomer (slow: ~10x the rest of the step).")


class PropertyRange(_Strict):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PropertyRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class FilterParams(_Strict):
    families: list[FilterFamily] = Field(
        default_factory=lambda: list(DEFAULT_FAMILIES),
        description="Rule families checked: Lipinski (fails on >1 violation), Veber, PAINS A/B/C, Brenk, NIH "
        "(RDKit FilterCatalog).",
    )
    mode: Literal["flag", "drop"] = Field(
        default="flag",
        description="flag: keep failing compounds with their reasons (and a ranking penalty); drop: leave them out "
        "of the results, recorded as item errors with code FILTERED and the reasons (no ADMET/model time spent).",
    )
    include_smarts: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS)
    exclude_smarts: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS)
    ranges: dict[RangeProperty, PropertyRange] = Field(default_factory=dict)


class Reference(_Strict):
    smiles: str = Field(min_length=1, max_length=2000)
    id: str | None = Field(default=None, max_length=255)


class SimilarityParams(_Strict):
    references: list[Reference] = Field(min_length=1, max_length=MAX_REFERENCES)
    radius: int = Field(default=2, ge=1, le=4)
    n_bits: int = Field(default=2048, ge=256, le=16384)


class ActivityParams(_Strict):
    model: str = Field(min_length=1, max_length=100, description="Name of a model registered in this project.")
    version: str | None = Field(default=None, max_length=50, description="None = the latest registered version.")
    task: str | None = Field(default=None, description="Task ranked by (multi-task models); None = the first task.")
    higher_is_better: bool = True


class RankingParams(_Strict):
    primary: Literal["auto", "activity", "similarity", "qed"] = Field(
        default="auto", description="auto: activity if a model is given, else similarity if references are, else QED."
    )
    primary_weight: float = Field(default=1.0, ge=0)
    qed_weight: float = Field(default=0.2, ge=0, description="Added QED bonus (unused when QED is the primary).")
    alert_penalty: float = Field(default=0.1, ge=0, description="Subtracted per failed filter reason, up to 5.")
    admet_penalties: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ADMET_PENALTIES),
        description="ADMET-AI column -> weight subtracted times its value (probabilities for classification).",
    )


class ScreeningParams(_Strict):
    """What a client may set for a screening job; unknown keys are rejected so typos fail loudly."""

    input_format: InputFormat = Field(
        default="auto",
        description="Input format; 'auto' decides by file suffix (.gz stripped), then by sniffing the content.",
    )
    smiles_column: str | None = Field(
        default=None,
        description="CSV/TSV column (or JSONL key, or .smi header field) holding SMILES; None = auto-detect "
        "a column named smiles / canonical_smiles / isomeric_smiles / smi, case-insensitive.",
    )
    id_column: str | None = Field(
        default=None,
        description="Column (CSV/TSV, JSONL key, .smi header field, SDF data field) holding the compound ID; "
        "None = auto-detect id / name / mol_id / compound_id / title, the second field of a .smi line, "
        "or the SDF title line.",
    )
    standardize: StandardizeParams = Field(default_factory=StandardizeParams)
    filters: FilterParams = Field(default_factory=FilterParams)
    similarity: SimilarityParams | None = None
    admet: bool = Field(default=True, description="Run the ADMET-AI panel (41 endpoints, physchem, percentiles).")
    activity: ActivityParams | None = None
    ranking: RankingParams = Field(default_factory=RankingParams)

    def primary(self) -> str:
        wanted = self.ranking.primary
        if wanted == "auto":
            return "activity" if self.activity else "similarity" if self.similarity else "qed"
        return wanted

    @model_validator(mode="after")
    def _primary_available(self) -> ScreeningParams:
        wanted = self.ranking.primary
        if wanted == "activity" and self.activity is None:
            raise ValueError("ranking.primary is 'activity' but no activity model is given")
        if wanted == "similarity" and self.similarity is None:
            raise ValueError("ranking.primary is 'similarity' but no similarity references are given")
        return self
