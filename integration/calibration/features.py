"""A learned rule as a feature (how it combines with its neighbours), which leads it fires for, cut points as labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from integration.domain.model import Lead
from integration.domain.scoring import decay_factor as scorer_decay
from integration.domain.scoring import rule_holds, rule_matches
from mappings.catalogue import Attribute
from mappings.schema import Decay, Rule

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

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


def decay_factor(last: datetime | None, as_of: datetime, decay: Decay) -> float:
    """The share of engagement left after the silence before `as_of` (the scorer's own formula)."""
    return scorer_decay(last, as_of, decay.half_life_days, decay.grace_days)


def fires(leads: Sequence[Lead], rule: Rule, as_of: Sequence[datetime] | None = None) -> npt.NDArray[np.bool_]:
    """Which leads a rule earns points for, decided by the scorer's own matching (once per distinct value).

    A rule testing a date's age (`days_ago`) is read at each lead's `as_of` moment.
    """
    import numpy as np

    verdicts: dict[Any, bool] = {}
    timed = any(c.days_ago is not None for c in rule.conditions)
    if timed and as_of is None:
        raise ValueError(f"rule {rule.label!r} tests a date's age (days_ago): give each lead's as-of moment")
    if rule.attribute is None or timed:  # several attributes, or the moment, decide: lead by lead
        moments = as_of if as_of is not None else [None] * len(leads)
        return np.fromiter(
            (rule_holds(rule, lead.values, moment) for lead, moment in zip(leads, moments, strict=True)),
            dtype=bool,
            count=len(leads),
        )
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
