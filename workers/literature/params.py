"""Parameters of a literature job. Light: imported by the API to validate submissions (no torch, no Bio here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InputFormat = Literal["auto", "pubmed-xml", "medline", "bioc-xml", "bioc-json", "jsonl", "text", "pmids"]
EntityType = Literal["Chemical", "Disease", "Gene"]
ENTITY_TYPES: tuple[EntityType, ...] = ("Chemical", "Disease", "Gene")


class LiteratureParams(BaseModel):
    """What a client may set for a literature job; unknown keys are rejected so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")

    input_format: InputFormat = Field(
        default="auto",
        description="pubmed-xml (PubmedArticleSet), medline (PubMed text format), bioc-xml, bioc-json, "
        "jsonl ({'id', 'text'} or {'id', 'title', 'abstract'} per line), text (blank-line separated documents), "
        "pmids (one PMID per line, fetched from NCBI E-utilities), or auto (sniffed).",
    )
    entity_types: list[EntityType] = Field(
        default_factory=lambda: list(ENTITY_TYPES),
        min_length=1,
        description="Entity types to keep.",
    )
    min_score: float = Field(default=0.0, ge=0, le=1, description="Drop mentions whose tagger score is below this.")
    normalize: bool = Field(default=True, description="Map chemicals and diseases to MeSH ids.")
    relations: bool = Field(default=True, description="Extract chemical-induced-disease (CID) relations.")
    relation_threshold: float | None = Field(
        default=None, ge=0, le=1, description="CID score cut-off; None = the model's threshold tuned on development."
    )
    require_abstract: bool = Field(
        default=True,
        description="PubMed records without an abstract become EMPTY_TEXT item errors; false tags title-only records.",
    )


def as_params(params: BaseModel) -> LiteratureParams:
    """The runner hands pipelines the validated model of the plug-in; anything else is re-validated."""
    return params if isinstance(params, LiteratureParams) else LiteratureParams.model_validate(params.model_dump())
