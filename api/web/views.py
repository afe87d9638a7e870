"""How the dashboard shows each domain's rows, and the small formatting helpers its templates use.

The results table is generic: it shows whatever columns the domain's results endpoint returns, a short list
of preferred columns first. A domain may add a picture per row (an <img> of an authenticated GET endpoint,
which the dashboard's session cookie opens) and a few key properties for its top-hit cards.

Literature: one row per document. The table shows the bibliographic fields and the counts; the bulky JSON columns
(passages, entities, relations) are hidden, and each row links to its document page (api/web/literature.py), where
the entities are highlighted at their offsets (api/web/highlight.py) next to the document's CID relations.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from core.enums import JobStatus

UI_PREFIX = "/ui"


@dataclass(frozen=True)
class DomainView:
    preferred: tuple[str, ...]  # shown first, in this order, when the endpoint returns them
    image: str | None = None  # "structure" (RDKit SVG) or "thumbnail" (de-identified PNG)
    card_title: str = "item_key"
    card_columns: tuple[str, ...] = ()
    wide: frozenset[str] = frozenset()  # long text: wraps instead of widening the table
    card_subtitle: str | None = None  # a second, muted line under the card title
    # Columns left out of the results table (still in the exports): JSON too bulky to read in a cell.
    hidden: frozenset[str] = frozenset()
    # Rows have a page of their own (/ui/jobs/{id}/documents/{item_index}); these cells link to it.
    item_page: bool = False
    linked: frozenset[str] = frozenset()


DOMAIN_VIEWS: dict[str, DomainView] = {
    "screening": DomainView(
        preferred=(
            "item_index",
            "item_key",
            "canonical_smiles",
            "score",
            "qed",
            "mw",
            "clogp",
            "tpsa",
            "hbd",
            "hba",
            "rotatable_bonds",
            "lipinski_violations",
        ),
        image="structure",
        card_columns=("score", "qed", "mw", "clogp", "tpsa"),
        wide=frozenset({"canonical_smiles", "input_smiles", "alerts", "filter_reasons"}),
    ),
    "triage": DomainView(
        preferred=(
            "item_index",
            "priority",
            "probability",
            "modality",
            "body_part",
            "view_position",
            "quality_flags",
            "reasons",
            "study_uid",
            "series_uid",
        ),
        image="thumbnail",
        card_title="priority",
        card_columns=("probability", "modality", "body_part", "view_position"),
        wide=frozenset({"reasons", "quality_flags", "study_uid", "series_uid", "instance_uid", "patient_pseudonym"}),
    ),
    "literature": DomainView(
        preferred=(
            "item_index",
            "doc_id",
            "title",
            "year",
            "journal",
            "chemical_count",
            "disease_count",
            "gene_count",
            "relation_count",
            "unmatched_count",
            "score",
            "chunked",
        ),
        card_title="doc_id",
        card_subtitle="title",
        card_columns=("chemical_count", "disease_count", "gene_count", "relation_count", "score"),
        wide=frozenset({"title"}),
        hidden=frozenset({"passages", "entities", "relations"}),
        item_page=True,
        linked=frozenset({"item_index", "doc_id", "title"}),
    ),
}
GENERIC_VIEW = DomainView(preferred=("item_index", "item_key", "score"))


def domain_view(domain: str) -> DomainView:
    return DOMAIN_VIEWS.get(domain, GENERIC_VIEW)


def ordered_columns(columns: Sequence[str], view: DomainView) -> list[str]:
    first = [c for c in view.preferred if c in columns and c not in view.hidden]
    return first + [c for c in columns if c not in first and c not in view.hidden]


def item_url(job_id: uuid.UUID | str, domain: str, item_index: Any) -> str | None:
    """The row's own page, for domains that have one."""
    if not domain_view(domain).item_page:
        return None
    return f"{UI_PREFIX}/jobs/{job_id}/documents/{int(item_index)}"


def image_url(job_id: uuid.UUID | str, domain: str, item_index: Any) -> str | None:
    kind = domain_view(domain).image
    if kind == "structure":
        return f"/v1/jobs/{job_id}/structures/{int(item_index)}.svg"
    if kind == "thumbnail":
        return f"/v1/jobs/{job_id}/images/{int(item_index)}/thumbnail.png"
    return None


# ------------------------------------------------------------------------------------------------ formatting


def cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.3f}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def size(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} items/s"


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    percent: float | None  # None while the total is unknown (ingest still reading the input)


def progress(status: str, total: int | None, succeeded: int, failed: int) -> Progress:
    done = succeeded + failed
    if total is None:
        return Progress(done, None, None)
    if total == 0:
        return Progress(done, 0, 100.0 if JobStatus(status).terminal else 0.0)
    return Progress(done, total, min(100.0, 100.0 * done / total))


def is_terminal(status: str) -> bool:
    return JobStatus(status).terminal


def url(path: str, **query: Any) -> str:
    """A dashboard URL with a query string; list values repeat the key; None and '' are left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        values: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(v)) for v in values if v is not None and v != "")
    return path + ("?" + urlencode(pairs) if pairs else "")


def short(value: object, keep: int = 12) -> str:
    text = "" if value is None else str(value)
    if not text:
        return "—"
    return text if len(text) <= keep + 1 else text[:keep] + "…"
