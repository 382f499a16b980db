"""Candidate rules a history can support, and the matrix of how strongly each one fires per lead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from integration.model import ENGAGEMENT_COUNTERS, QUALIFICATION_CRITERIA, Lead
from integration.scoring import rule_matches
from mappings.schema import Decay, Rule, ScoringRules

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

CATEGORIES = ("seniority", "origin", "industry", "country", "lead_status", "rep_rating")
FLAGS = ("demo_requested", "newsletter", "opted_out", "bounced")
SIZES = ("company_size", "annual_revenue")
# Behaviour decays with silence in `assess`, so the model sees it decayed too; only these may be engagement.
BEHAVIOUR = frozenset((*ENGAGEMENT_COUNTERS, "demo_requested", "newsletter"))
COVERED = frozenset((*CATEGORIES, *FLAGS, *SIZES, *QUALIFICATION_CRITERIA, *ENGAGEMENT_COUNTERS))
MIN_ROWS = 20  # a condition met by fewer leads cannot be learned
BINS = 4
_DAY_SECONDS = 86400.0


class Group(StrEnum):
    """How the features on one attribute combine: which sums a single lead can reach."""

    EXCLUSIVE = "exclusive"  # at most one fires (one-hot values, range bins)
    NESTED = "nested"  # thresholds `at_least` a < b < c: a lead fires a prefix
    INDEPENDENT = "independent"


@dataclass(frozen=True)
class Feature:
    """One candidate rule (its points still 0) and how it combines with its neighbours."""

    rule: Rule
    group: str
    combine: Group
    behaviour: bool


def _title(attribute: str) -> str:
    return attribute.replace("_", " ").capitalize()


def _exact(attribute: str, value: Any, label: str) -> Rule:
    return Rule(label=label, attribute=attribute, **{"is": value}, points=0)


def _categories(leads: Sequence[Lead]) -> Iterable[Feature]:
    for attribute in CATEGORIES:
        counts = Counter(str(v).casefold() for lead in leads if (v := getattr(lead, attribute)))
        for value, n in sorted(counts.items()):
            if n >= MIN_ROWS:
                rule = _exact(attribute, value, f"{_title(attribute)}: {value}")
                yield Feature(rule, attribute, Group.EXCLUSIVE, behaviour=False)


def _flags(leads: Sequence[Lead]) -> Iterable[Feature]:
    # A rep's answer is yes, no or unknown: both answers are evidence, unknown is the reference.
    for attribute in QUALIFICATION_CRITERIA:
        counts = Counter(getattr(lead, attribute) for lead in leads)
        for value, word in ((True, "confirmed"), (False, "ruled out")):
            if counts[value] >= MIN_ROWS:
                rule = _exact(attribute, value, f"{_title(attribute)} {word}")
                yield Feature(rule, attribute, Group.EXCLUSIVE, behaviour=False)
    for attribute in FLAGS:
        if sum(1 for lead in leads if getattr(lead, attribute) is True) >= MIN_ROWS:
            yield Feature(
                _exact(attribute, True, _title(attribute)), attribute, Group.INDEPENDENT, attribute in BEHAVIOUR
            )


def quantile_edges(values: Sequence[float], bins: int = BINS) -> list[float]:
    """Distinct cut points of the positive values at their quantiles, the smallest value first."""
    ordered = sorted(v for v in values if v > 0)
    if not ordered:
        return []
    edges = {ordered[0], *(ordered[len(ordered) * q // bins] for q in range(1, bins))}
    return sorted(edges)


def _numbers(leads: Sequence[Lead]) -> Iterable[Feature]:
    for attribute in ENGAGEMENT_COUNTERS:
        values = [float(getattr(lead, attribute) or 0) for lead in leads]
        # Cumulative thresholds: engagement rules may only use at_least, and each step adds to the last.
        for edge in quantile_edges(values):
            if sum(1 for v in values if v >= edge) >= MIN_ROWS:
                rule = Rule(
                    label=f"{_title(attribute)}: {edge:g} or more", attribute=attribute, at_least=edge, points=0
                )
                yield Feature(rule, attribute, Group.NESTED, behaviour=True)
    for attribute in SIZES:
        values = [float(v) for lead in leads if (v := getattr(lead, attribute)) is not None]
        edges = quantile_edges(values)
        for low, high in zip(edges, [*edges[1:], None][: len(edges)], strict=True):
            if sum(1 for v in values if v >= low and (high is None or v < high)) < MIN_ROWS:
                continue
            label = (
                f"{_title(attribute)}: {low:g} or more" if high is None else f"{_title(attribute)}: {low:g} to {high:g}"
            )
            yield Feature(
                Rule(label=label, attribute=attribute, at_least=low, below=high, points=0),
                attribute,
                Group.EXCLUSIVE,
                behaviour=False,
            )


def _current(leads: Sequence[Lead], current: ScoringRules) -> Iterable[Feature]:
    """The admin's own classes on attributes the generic features do not cover (free-mail, student...)."""
    seen: set[str] = set()
    for rule in [*current.fit, *current.engagement, *current.penalties]:
        if rule.attribute in COVERED or rule.each is not None or rule.label in seen:
            continue
        seen.add(rule.label)
        if sum(1 for lead in leads if rule_matches(rule, _folded(getattr(lead, rule.attribute)))) >= MIN_ROWS:
            yield Feature(rule.model_copy(update={"points": 0.0}), rule.attribute, Group.INDEPENDENT, behaviour=False)


def _without_reference(leads: Sequence[Lead], features: list[Feature]) -> list[Feature]:
    """Drop the most common value of each exclusive group that covers every lead: the others are relative to it.

    Without a reference value the group duplicates the baseline and the regularisation splits an effect
    between "executive +" and "everyone else -", which reads worse and says nothing more.
    """
    dropped: set[int] = set()
    groups: dict[str, list[Feature]] = {}
    for feature in features:
        if feature.combine is Group.EXCLUSIVE:
            groups.setdefault(feature.group, []).append(feature)
    for members in groups.values():
        counts = [int(fires(leads, f.rule).sum()) for f in members]
        if sum(counts) == len(leads):
            dropped.add(id(members[counts.index(max(counts))]))
    return [f for f in features if id(f) not in dropped]


def candidates(leads: Sequence[Lead], current: ScoringRules) -> list[Feature]:
    """One-hot categories, rep answers, flags, quantile-binned numbers, and the current rules' classes."""
    found = [*_categories(leads), *_flags(leads), *_numbers(leads), *_current(leads, current)]
    return _without_reference(leads, found)


def _folded(value: Any) -> Any:
    # `assess` looks text up casefolded; matching the same way keeps features and scores in step.
    return value.casefold() if isinstance(value, str) else value


def decay_factor(last: datetime | None, as_of: datetime, decay: Decay) -> float:
    """The share of engagement left after the silence before `as_of` (the formula `assess` applies)."""
    if last is None:
        return 1.0
    silent_days = (as_of - last).total_seconds() / _DAY_SECONDS
    return float(0.5 ** (max(0.0, silent_days - decay.grace_days) / decay.half_life_days))


def fires(leads: Sequence[Lead], rule: Rule) -> npt.NDArray[np.bool_]:
    """Which leads a rule's condition holds for."""
    import numpy as np

    values = [_folded(getattr(lead, rule.attribute)) for lead in leads]
    if rule.is_ is not None and not isinstance(rule.is_, bool):
        wanted = str(rule.is_).casefold()
        return np.fromiter((v == wanted for v in values), dtype=bool, count=len(values))
    if rule.at_least is not None or rule.below is not None:
        numbers = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        low = -np.inf if rule.at_least is None else rule.at_least
        high = np.inf if rule.below is None else rule.below
        with np.errstate(invalid="ignore"):
            return (numbers >= low) & (numbers < high)
    return np.fromiter((rule_matches(rule, v) for v in values), dtype=bool, count=len(values))


def indicators(leads: Sequence[Lead], features: Sequence[Feature]) -> npt.NDArray[np.float64]:
    """Lead x feature: 1.0 where the feature's rule fires, else 0.0."""
    import numpy as np

    columns = [fires(leads, f.rule).astype(float) for f in features]
    return np.column_stack(columns) if columns else np.zeros((len(leads), 0))


def weigh(fired: npt.NDArray[np.float64], factors: Sequence[float], decayed: Sequence[bool]) -> npt.NDArray[np.float64]:
    """The indicators with each decayed feature scaled by its lead's decay factor, as `assess` will."""
    import numpy as np

    mask = np.asarray(decayed, dtype=bool)[None, :]
    return np.asarray(fired * np.where(mask, np.asarray(factors, dtype=float)[:, None], 1.0), dtype=float)
