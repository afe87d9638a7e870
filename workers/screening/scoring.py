"""The composite ranking score. Pure Python, no RDKit: documented in the README and tested for order.

    score = primary_weight * primary
            + qed_weight * qed                      (only when QED is not itself the primary)
            - alert_penalty * min(alert_count, 5)
            - sum(weight_k * admet_k)               (ADMET-AI columns; probabilities for liabilities)

primary is the activity model's ensemble mean for the ranked task (negated when lower is better), else the max
Tanimoto similarity to the references, else QED. Activity is used as the model outputs it: classification
probabilities sit in [0, 1] like similarity and QED; a regression model (pIC50, say) dominates the bonuses and
penalties by its scale, which is what a chemist ranking by predicted potency expects. A missing value (no ADMET
because admet=false) contributes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workers.screening.params import ScreeningParams

MAX_ALERTS_PENALIZED = 5


def composite_score(row: Mapping[str, Any], params: ScreeningParams) -> float:
    ranking = params.ranking
    primary = params.primary()
    if primary == "activity":
        value = row["activity"]
        assert params.activity is not None  # ScreeningParams validates it
        base = value if params.activity.higher_is_better else -value
    elif primary == "similarity":
        base = row["similarity"]
    else:
        base = row["qed"]
    score = ranking.primary_weight * base
    if primary != "qed":
        score += ranking.qed_weight * row["qed"]
    score -= ranking.alert_penalty * min(int(row.get("alert_count") or 0), MAX_ALERTS_PENALIZED)
    admet = row.get("admet")
    if admet:
        for column, weight in ranking.admet_penalties.items():
            value = admet.get(column)
            if value is not None:
                score -= weight * value
    return float(score)
