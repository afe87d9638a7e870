"""Declarative routing: which model scores an instance, decided from its de-identified header only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.triage.params import RoutingRule


@dataclass(frozen=True, slots=True)
class Route:
    model: str | None  # None: checked and stored, not scored
    reason: str


def _matches(values: list[str], actual: str | None) -> bool:
    if not values:
        return True
    wanted = {v.strip().upper() for v in values}
    return (actual or "").strip().upper() in wanted


def route(
    rules: Sequence[RoutingRule], *, modality: str | None, body_part: str | None, view: str | None, min_side: int
) -> Route:
    for number, rule in enumerate(rules, start=1):
        if (
            _matches(rule.modality, modality)
            and _matches(rule.body_part, body_part)
            and _matches(rule.view, view)
            and min_side >= rule.min_side
        ):
            if rule.model == "none":
                return Route(None, f"not scored: rule {number} routes this instance to no model")
            return Route(rule.model, f"routed to the model by rule {number}")
    described = f"modality {modality or '?'}, body part {body_part or '?'}, view {view or '?'}"
    return Route(None, f"not scored: no routing rule matches ({described})")
