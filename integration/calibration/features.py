"""Candidate rules a history can support, and the matrix of how strongly each one fires per lead."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from integration.model import Lead
from integration.scoring import decay_factor as scorer_decay
from integration.scoring import rule_holds, rule_matches
from mappings.catalogue import Attribute
from mappings.schema import Decay, Rule, ScoringRules

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MIN_ROWS = 20  # a condition met by fewer leads cannot be learned
BINS = 4
SIGNIFICANT = 2  # cut points are rounded to this many significant digits: 12 million, not 12,345,678


def learnable(attributes: Sequence[Attribute], calibrate: str) -> list[Attribute]:
    """The attributes in use that calibrate treats one way (category, answer, flag, counter, range)."""
    return [a for a in attributes if a.calibrate == calibrate]


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


def informative(fired: int, leads: int) -> bool:
    """Whether a condition holds for, and fails for, at least `MIN_ROWS` leads each: only then can it be learned."""
    # One that holds for (nearly) everyone says nothing the baseline does not; learned anyway, its points
    # would show as a reason on every record (a penalty "Recent activity recorded" for all).
    return fired >= MIN_ROWS and leads - fired >= MIN_ROWS


def _exact(attribute: str, value: Any, label: str) -> Rule:
    return Rule(label=label, attribute=attribute, **{"is": value}, points=0)


def nice(value: float) -> float:
    """A cut point rounded as a person would write it: counts under 100 exact, else two significant digits."""
    if value == 0 or (abs(value) < 100 and float(value).is_integer()):
        return float(value)
    return float(round(value, SIGNIFICANT - 1 - math.floor(math.log10(abs(value)))))


def _plain(value: float) -> str:
    """Up to three significant digits with thousands separators, never in exponent notation."""
    if value == 0:
        return "0"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def number_label(value: float) -> str:
    """A cut point as a person writes it: 12, 2,500, 1.5 million, 2 billion (never 1.2e+07)."""
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{_plain(value / size)} {word}"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return _plain(value)


def _categories(leads: Sequence[Lead], attributes: Sequence[Attribute]) -> Iterable[Feature]:
    for attribute in learnable(attributes, "category"):
        name = attribute.name
        spellings = Counter(str(v) for lead in leads if (v := lead.get(name)))
        counts: Counter[str] = Counter()
        for spelling, n in spellings.items():
            counts[spelling.casefold()] += n
        # The label shows the value as the CRM most often spells it (Analytics Suite); matching ignores case.
        shown = {s.casefold(): s for s, _ in sorted(spellings.items(), key=lambda x: (x[1], x[0]))}
        for value, n in sorted(counts.items()):
            if informative(n, len(leads)):
                rule = _exact(name, value, f"{attribute.label}: {shown[value]}")
                yield Feature(rule, name, Group.EXCLUSIVE, behaviour=False)


def _flags(leads: Sequence[Lead], attributes: Sequence[Attribute]) -> Iterable[Feature]:
    # A rep's answer is yes, no or unknown: both answers are evidence, unknown is the reference.
    for attribute in learnable(attributes, "answer"):
        counts = Counter(lead.get(attribute.name) for lead in leads)
        for value, word in ((True, "confirmed"), (False, "ruled out")):
            if informative(counts[value], len(leads)):
                rule = _exact(attribute.name, value, f"{attribute.label} {word}")
                yield Feature(rule, attribute.name, Group.EXCLUSIVE, behaviour=False)
    for attribute in learnable(attributes, "flag"):
        if informative(sum(1 for lead in leads if lead.get(attribute.name) is True), len(leads)):
            rule = _exact(attribute.name, True, attribute.label)
            yield Feature(rule, attribute.name, Group.INDEPENDENT, attribute.decays)


def quantile_edges(values: Sequence[float], bins: int = BINS) -> list[float]:
    """Distinct cut points of the positive values at their quantiles (rounded `nice`), the smallest value first."""
    ordered = sorted(v for v in values if v > 0)
    if not ordered:
        return []
    edges = {ordered[0], *(ordered[len(ordered) * q // bins] for q in range(1, bins))}
    return sorted({rounded for edge in edges if (rounded := nice(edge)) > 0})


def _numbers(leads: Sequence[Lead], attributes: Sequence[Attribute], bins: Mapping[str, int]) -> Iterable[Feature]:
    for attribute in learnable(attributes, "counter"):
        name = attribute.name
        values = [float(lead.get(name) or 0) for lead in leads]
        # Cumulative thresholds: engagement rules may only use at_least, and each step adds to the last.
        for edge in quantile_edges(values, bins.get(name, BINS)):
            if informative(sum(1 for v in values if v >= edge), len(leads)):
                label = f"{attribute.label}: {number_label(edge)} or more"
                rule = Rule(label=label, attribute=name, at_least=edge, points=0)
                yield Feature(rule, name, Group.NESTED, behaviour=attribute.decays)
    for attribute in learnable(attributes, "range"):
        name = attribute.name
        values = [float(v) for lead in leads if (v := lead.get(name)) is not None]
        edges = quantile_edges(values, bins.get(name, BINS))
        for low, high in zip(edges, [*edges[1:], None][: len(edges)], strict=True):
            if not informative(sum(1 for v in values if v >= low and (high is None or v < high)), len(leads)):
                continue
            span = f"{number_label(low)} or more" if high is None else f"{number_label(low)} to {number_label(high)}"
            yield Feature(
                Rule(label=f"{attribute.label}: {span}", attribute=name, at_least=low, below=high, points=0),
                name,
                Group.EXCLUSIVE,
                behaviour=False,
            )


def _current(leads: Sequence[Lead], current: ScoringRules, attributes: Sequence[Attribute]) -> Iterable[Feature]:
    """The admin's own classes on attributes the generic features do not cover (free-mail, student...)."""
    covered = {a.name for a in attributes if a.calibrate != "none"}
    in_use = {a.name for a in attributes}
    seen: set[str] = set()
    for rule in [*current.fit, *current.engagement, *current.penalties]:
        if rule.attribute in covered or rule.attribute not in in_use or rule.each is not None or rule.label in seen:
            continue
        seen.add(rule.label)
        if informative(int(fires(leads, rule).sum()), len(leads)):
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


def candidates(
    leads: Sequence[Lead],
    current: ScoringRules,
    attributes: Sequence[Attribute],
    bins: Mapping[str, int] | None = None,
) -> list[Feature]:
    """One-hot categories, rep answers, flags, quantile-binned numbers, and the current rules' classes.

    `attributes` are those the mapping fills, the admin's own included (`CrmMapping.attributes_in_use`);
    `bins` cuts the named numbers into that many quantile bins instead of `BINS`.
    """
    found = [
        *_categories(leads, attributes),
        *_flags(leads, attributes),
        *_numbers(leads, attributes, bins or {}),
        *_current(leads, current, attributes),
    ]
    return _without_reference(leads, found)


def decay_factor(last: datetime | None, as_of: datetime, decay: Decay) -> float:
    """The share of engagement left after the silence before `as_of` (the scorer's own formula)."""
    return scorer_decay(last, as_of, decay.half_life_days, decay.grace_days)


def fires(leads: Sequence[Lead], rule: Rule) -> npt.NDArray[np.bool_]:
    """Which leads a rule earns points for, decided by the scorer's own matching (once per distinct value)."""
    import numpy as np

    verdicts: dict[Any, bool] = {}
    if rule.attribute is None:  # a compound rule reads several attributes of each lead
        return np.fromiter((rule_holds(rule, lead.values) for lead in leads), dtype=bool, count=len(leads))
    out = np.zeros(len(leads), dtype=bool)
    name = rule.attribute
    for i, lead in enumerate(leads):
        value = lead.get(name)
        key = (value.__class__, value)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = rule_matches(rule, value)
        out[i] = verdict
    return out


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
