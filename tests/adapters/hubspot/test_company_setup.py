"""`leadtherm setup hubspot`, company side: the company properties, idempotently, and the subscriptions to add."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.companies import HubSpotCompanies
from adapters.hubspot.field_setup import setup
from mappings.loader import load_mapping

TOKEN = "setup-token"


@pytest.fixture
def portal() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_setup_creates_the_company_outputs_on_companies_once(portal: HubSpotSandbox) -> None:
    mapping = load_mapping("hubspot")
    assert mapping.company is not None
    api = HubSpotClient(mapping, TOKEN, portal.base_url).api
    companies = HubSpotCompanies(api, mapping.company)
    assert companies.missing_company_outputs() == sorted(mapping.company.own_fields)
    first = setup(api, mapping)
    assert "company property group leadtherm" in first.created
    assert set(portal.company_properties) >= mapping.company.own_fields
    assert not mapping.company.own_fields & set(portal.properties)  # not on contacts
    assert portal.company_properties["leadtherm_company_temperature"]["type"] == "enumeration"
    assert companies.missing_company_outputs() == []
    second = setup(api, mapping)
    assert second.created == [] and second.conflicts == [] and second.missing == []


def test_setup_prints_the_company_subscriptions_for_the_fields_the_score_reads(portal: HubSpotSandbox) -> None:
    mapping = load_mapping("hubspot")
    assert mapping.company is not None
    report = setup(HubSpotClient(mapping, TOKEN, portal.base_url).api, mapping)
    text = "\n".join(report.instructions)
    assert "company.creation, company.deletion" in text
    for name in mapping.company.trigger_fields - {mapping.company.id_field}:
        assert f"    {name}" in text
    for name in mapping.company.own_fields:
        assert name not in text  # subscribing to our own outputs would echo every write
