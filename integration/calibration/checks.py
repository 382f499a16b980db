"""Warnings about a history: columns that look like leakage, and too little data to trust the points."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from integration.model import Lead
from mappings.schema import CrmMapping

LEAK_MIN_ROWS = 50  # "many rows": fewer and an extreme rate is plausibly chance
LEAK_HIGH = 0.95
LEAK_LOW = 0.02
LEAK_LOW_BASE = 0.10  # a value converting under 2% is only odd when leads usually convert more
# On any amount of data: a value that holds nearly every conversion and almost only conversions
# separates the outcome (Status = Closed - Converted); that is leakage, not chance.
SEPARATING_SHARE = 0.9
SEPARATING_MIN_LEADS = 5
MIN_CONVERSIONS = 100


def _checked(mapping: CrmMapping) -> list[str]:
    # Values set during or after the sale (lifecycle, status) leak the outcome into the features.
    return [a.name for a in mapping.attributes_in_use if a.calibrate == "category" or a.role == "lifecycle"]


def _column(mapping: CrmMapping, attribute: str) -> str:
    found = mapping.sources().get(attribute)
    return ", ".join(found.sources) if found is not None else attribute


def _crm_values(mapping: CrmMapping, attribute: str, value: str) -> tuple[str, ...]:
    """The CRM's own values the mapping's `map` reads as `value` (Closed - Converted for qualified)."""
    found = mapping.sources().get(attribute)
    if found is None or found.map is None:
        return ()
    return tuple(str(k) for k, v in found.map.items() if v is not None and str(v).casefold() == value)


@dataclass(frozen=True)
class Leak:
    """A category value whose conversion rate is too extreme to be evidence known before the outcome."""

    attribute: str
    column: str
    value: str
    rate: float
    leads: int
    crm_values: tuple[str, ...] = ()  # what the CRM shows, when the mapping maps it onto `value`
    # Holds (nearly) every conversion, of how many: leakage on any amount of data, not chance.
    separates: int | None = None

    def __str__(self) -> str:
        shown = " or ".join(repr(v) for v in self.crm_values) or repr(self.value)
        read_as = f" (read as {self.value!r})" if self.crm_values else ""
        where = f"column {self.column} ({self.attribute}) = {shown}{read_as}"
        if self.separates is not None:
            converted = round(self.rate * self.leads)
            return (
                f"probable leakage: {where} holds {converted} of the {self.separates} conversions and converts at "
                f"{self.rate:.1%} over {self.leads} leads - a value set after the outcome?"
            )
        return (
            f"possible leakage: {where} converts at {self.rate:.1%} over {self.leads} leads"
            " - a value set after the outcome?"
        )


def leakage(leads: Sequence[Lead], outcomes: Sequence[int], mapping: CrmMapping) -> list[Leak]:
    """Values converting almost always or never over many rows, or holding nearly every conversion on any."""
    conversions = sum(outcomes)
    base = conversions / len(outcomes) if outcomes else 0.0
    found = []
    for attribute in _checked(mapping):
        counts: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
        for lead, outcome in zip(leads, outcomes, strict=True):
            value = lead.get(attribute)
            if value is not None and value != "":
                cell = counts[str(value).casefold()]
                cell[0] += 1
                cell[1] += outcome
        for value, (n, k) in sorted(counts.items()):
            rate = k / n
            extreme = rate > LEAK_HIGH or (rate < LEAK_LOW and base >= LEAK_LOW_BASE)
            separating = n >= SEPARATING_MIN_LEADS and rate > LEAK_HIGH and k >= SEPARATING_SHARE * conversions
            if (n >= LEAK_MIN_ROWS and extreme) or separating:
                found.append(
                    Leak(
                        attribute,
                        _column(mapping, attribute),
                        value,
                        rate,
                        n,
                        _crm_values(mapping, attribute, value),
                        conversions if separating else None,
                    )
                )
    return found


def too_little(outcomes: Sequence[int]) -> list[str]:
    """A warning when there are fewer conversions than points can be learned from reliably."""
    conversions = sum(outcomes)
    if conversions >= MIN_CONVERSIONS:
        return []
    return [
        f"too little data: {conversions} conversions; points learned from fewer than about {MIN_CONVERSIONS} are noisy"
    ]


def warnings(leaks: Sequence[Leak], kept: bool, outcomes: Sequence[int]) -> list[str]:
    """Every warning about the history, leakage first, saying what was done with the leaky values."""
    action = (
        "the column is kept in the rules as asked (--keep-leaky): check it before trusting its points"
        if kept
        else "the column is left out of the rules (pass --keep-leaky to learn from it)"
    )
    return [*(f"{leak}; {action}" for leak in leaks), *too_little(outcomes)]
