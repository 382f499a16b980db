"""Candidate rules a history can support, and the 0/1 matrix of which lead each one fires on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from integration.model import ENGAGEMENT_COUNTERS, Lead
from integration.scoring import rule_matches
from mappings.schema import Rule

CATEGORIES = ("seniority", "origin", "industry", "country", "lead_status", "rep_rating")
FLAGS = ("need", "budget", "authority", "timeline", "demo_requested", "newsletter", "opted_out", "bounced")
NUMBERS = (*ENGAGEMENT_COUNTERS, "company_size")
ENGAGEMENT_ATTRIBUTES = frozenset(
    (*ENGAGEMENT_COUNTERS, "demo_requested", "newsletter", "timeline", "rep_rating", "lead_status")
)
MIN_ROWS = 20  # a category value seen less often cannot be learned


def _quantile_edges(values: list[float], bins: int = 3) -> list[float]:
    ordered = sorted(values)
    edges = {ordered[int(len(ordered) * q / bins)] for q in range(1, bins)}
    return sorted(e for e in edges if e > 0)


def candidate_rules(leads: Sequence[Lead], extra: Sequence[Rule] = ()) -> list[Rule]:
    """One-hot categories, flags, and numbers cut at their quantiles, plus the current penalty rules."""
    rules: list[Rule] = []
    for attribute in CATEGORIES:
        counts = Counter(str(getattr(lead, attribute)).casefold() for lead in leads if getattr(lead, attribute))
        for value, n in sorted(counts.items()):
            if n >= MIN_ROWS:
                rules.append(
                    Rule(
                        label=f"{attribute.replace('_', ' ').capitalize()}: {value}",
                        attribute=attribute,
                        **{"is": value},
                        points=0,
                    )
                )
    for attribute in FLAGS:
        if sum(1 for lead in leads if getattr(lead, attribute) is True) >= MIN_ROWS:
            rules.append(
                Rule(label=f"{attribute.replace('_', ' ').capitalize()}", attribute=attribute, **{"is": True}, points=0)
            )
    for attribute in NUMBERS:
        present = [float(getattr(lead, attribute)) for lead in leads if getattr(lead, attribute)]
        if len(present) < MIN_ROWS:
            continue
        edges = [e for e in [min(present), *_quantile_edges(present)] if e > 0]
        edges = sorted(set(edges))
        for low, high in zip(edges, [*edges[1:], None], strict=True):
            label = (
                f"{attribute.replace('_', ' ').capitalize()} {low:g}+"
                if high is None
                else f"{attribute.replace('_', ' ').capitalize()} {low:g}-{high:g}"
            )
            rules.append(Rule(label=label, attribute=attribute, at_least=low, below=high, points=0))
    rules.extend(r.model_copy(update={"points": 0}) for r in extra if r.each is None)
    return rules


def matrix(leads: Sequence[Lead], rules: Sequence[Rule]) -> list[list[int]]:
    return [[int(rule_matches(rule, getattr(lead, rule.attribute))) for rule in rules] for lead in leads]
