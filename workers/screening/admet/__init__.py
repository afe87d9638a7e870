"""ADMET-AI's predictions (same columns, same numbers) computed for bulk screening; see panel.py.

AdmetPanel is imported lazily: the CPU worker processes import this package's RDKit-only modules (physchem,
featurize, cpu_stage) and must not pay for torch and Chemprop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workers.screening.admet.panel import AdmetPanel

__all__ = ["AdmetPanel"]


def __getattr__(name: str) -> Any:
    if name == "AdmetPanel":
        from workers.screening.admet.panel import AdmetPanel

        return AdmetPanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
