"""Shared fixtures: the packaged rules, a fixed now, and a factory of realistic Leads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration.domain.model import Lead
from mappings.loader import load_rules
from mappings.schema import ScoringRules

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MakeLead = Callable[..., Lead]


@pytest.fixture(autouse=True)
def _no_repeat_filters_left_behind() -> Iterator[None]:
    """`serve` and the Lambda handler bound repeated warnings on the root handlers; pytest's persist."""
    yield
    from webhooks.logs import RepeatFilter

    for handler in logging.getLogger().handlers:
        for found in [f for f in handler.filters if isinstance(f, RepeatFilter)]:
            handler.removeFilter(found)


@pytest.fixture(scope="session")
def rules() -> ScoringRules:
    return load_rules()


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def lead() -> MakeLead:
    """A mid-market marketing manager with an ordinary amount of activity, overridable."""

    def make(**overrides: Any) -> Lead:
        values: dict[str, Any] = {
            "crm": "hubspot",
            "record_id": "51",
            "has_contact_data": True,
            "title": "Marketing Manager",
            "seniority": "manager",
            "company_size": 120,
            "industry": "software",
            "country": "germany",
            "email_domain": "acme.example",
            "origin": "organic_search",
            "page_views": 15,
            "visits": 4,
            "form_submissions": 1,
            "email_opens": 6,
            "email_clicks": 2,
            "last_engagement_at": NOW - timedelta(days=2),
        }
        values.update(overrides)
        return Lead.of(**values)

    return make
