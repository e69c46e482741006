"""Indicators -> score and review priority (family caps, thresholds, the two-family gate).

score    = sum over families of min(family total, family cap)
high     score >= thresholds.high and (>= min_families_for_high families contribute > 0
         or the page is linked to an already flagged network)
medium   score >= thresholds.medium
low      score >= thresholds.low and score > 0
none     otherwise (weight-0 indicators are still recorded)
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.models import Indicator, Priority
from crawler.rules.model import PackSettings


def family_scores(indicators: Sequence[Indicator], settings: PackSettings) -> dict[str, float]:
    totals: dict[str, float] = {}
    for ind in indicators:
        totals[ind.family] = totals.get(ind.family, 0.0) + ind.weight
    return {f: round(min(t, settings.cap(f)), 6) for f, t in sorted(totals.items())}


def priority(
    score: float, families: dict[str, float], settings: PackSettings, *, linked: bool = False
) -> Priority:
    t = settings.thresholds
    if score <= 0:
        return "none"
    contributing = sum(1 for v in families.values() if v > 0)
    if score >= t.high and (contributing >= settings.min_families_for_high or linked):
        return "high"
    if score >= t.medium:
        return "medium"
    if score >= t.low:
        return "low"
    return "none"


def score_indicators(
    indicators: Sequence[Indicator], settings: PackSettings, *, linked: bool = False
) -> tuple[float, Priority, dict[str, float]]:
    families = family_scores(indicators, settings)
    score = round(sum(families.values()), 6)
    return score, priority(score, families, settings, linked=linked), families
