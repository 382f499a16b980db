"""`leadtherm setup hubspot`: idempotent, and a conflicting property is reported, never overwritten."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from typer.testing import CliRunner

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.field_setup import setup
from integration.cli import app
from mappings.loader import load_mapping

TOKEN = "setup-token"


@pytest.fixture
def portal() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_a_second_run_changes_nothing(portal: HubSpotSandbox) -> None:
    mapping = load_mapping("hubspot")
    api = HubSpotClient(mapping, TOKEN, portal.base_url).api
    first = setup(api, mapping)
    assert "property group leadtherm" in first.created
    assert {"property leadtherm_temperature (enumeration)", "property leadtherm_need (bool)"} <= set(first.created)
    second = setup(api, mapping)
    assert second.created == [] and second.conflicts == []
    assert portal.properties["leadtherm_temperature"]["options"][3]["value"] == "hot"


def test_a_property_with_a_conflicting_type_is_reported_and_left_alone(
    portal: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal.properties["leadtherm_score"] = portal._definition(
        "leadtherm_score", "string", "text", (), "contactinformation"
    )
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", portal.base_url)
    result = CliRunner().invoke(app, ["setup", "hubspot"])
    assert result.exit_code == 1
    assert "leadtherm_score exists as string/text" in result.stdout
    assert portal.properties["leadtherm_score"]["type"] == "string"  # not overwritten
    assert "/webhooks/hubspot" in result.stdout  # the admin's checklist is still printed
