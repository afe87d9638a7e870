"""Parameters of a screening job. Light: imported by the API to validate submissions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InputFormat = Literal["auto", "smi", "csv", "tsv", "sdf", "jsonl"]


class ScreeningParams(BaseModel):
    """What a client may set for a screening job; unknown keys are rejected so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")

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
    rank_by: Literal["qed"] = Field(
        default="qed",
        description="Score used for ranking. This slice ranks by QED; a composite score comes later.",
    )
