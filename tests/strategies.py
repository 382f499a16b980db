"""Hypothesis strategies for leads, derived from the attribute catalogue (and the rules' own values)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from integration.domain.model import Lead, Stage
from mappings.catalogue import ATTRIBUTES, Attribute
from mappings.schema import ScoringRules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
_NOISE = ("other", "brazil", "retail", "acme.example")


def _texts(attribute: Attribute, rules: ScoringRules) -> list[Any]:
    """Values the rules test on a text attribute, plus a few they do not, so both branches run."""
    seen: list[Any] = [None, *_NOISE]
    for rule in [*rules.fit, *rules.engagement, *rules.penalties]:
        if rule.attribute == attribute.name:
            seen.extend(v for v in ([rule.is_] if rule.is_ is not None else rule.in_ or []) if isinstance(v, str))
    seen.extend(["student.uu.se", "gmail.com"] if attribute.name == "email_domain" else [])
    return list(dict.fromkeys(seen))


def value_strategy(attribute: Attribute, rules: ScoringRules) -> st.SearchStrategy[Any]:
    """Any value a normalised lead may hold for one attribute, by its kind and role."""
    if attribute.kind == "boolean":
        return st.booleans() if attribute.empty is False else st.one_of(st.none(), st.booleans())
    if attribute.kind == "integer":
        counts = st.integers(0, 500) if attribute.decays else st.integers(0, 100_000)
        return counts if attribute.empty == 0 else st.one_of(st.none(), counts)
    if attribute.kind == "number":
        return st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False))
    if attribute.kind == "datetime":
        return st.one_of(st.none(), st.integers(-400, 3).map(lambda d: NOW + timedelta(days=d)))
    if attribute.kind == "stage":
        return st.one_of(st.none(), st.sampled_from(list(Stage)))
    return st.sampled_from(_texts(attribute, rules))


def leads(rules: ScoringRules, attributes: Sequence[Attribute] = tuple(ATTRIBUTES.values())) -> st.SearchStrategy[Lead]:
    """Leads with every attribute of the catalogue (or those given) drawn by its kind."""
    fields = {a.name: value_strategy(a, rules) for a in attributes}
    return st.fixed_dictionaries(fields).map(lambda values: Lead.of("hubspot", "1", **values))
