"""Shared checks for the HubSpot end-to-end tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from mappings.loader import load_mapping
from tests.expected import expected_outputs as expected

OUTPUT_KEYS = ("score", "fit", "engagement", "temperature", "stage", "reasons", "next_action")


def expected_outputs(sandbox: HubSpotSandbox, contact_id: str) -> dict[str, Any]:
    """What leadtherm should have written for a contact as it stands now."""
    mapping = load_mapping("hubspot")
    values = expected("hubspot", {"id": contact_id, "properties": sandbox.contact(contact_id)})
    return {mapping.output_field(k): str(values[k]) for k in OUTPUT_KEYS}


def written_outputs(sandbox: HubSpotSandbox, contact_id: str) -> dict[str, Any]:
    mapping = load_mapping("hubspot")
    held = sandbox.contact(contact_id)
    return {mapping.output_field(k): held.get(str(mapping.output_field(k))) for k in OUTPUT_KEYS}


def repeated_writes(sandbox: HubSpotSandbox) -> list[tuple[str, str, str]]:
    """(contact, property, value) written twice in a row: a write that changed nothing."""
    last: dict[tuple[str, str], str] = {}
    repeats = []
    for contact_id, values in sandbox.writes:
        for name, value in values.items():
            if last.get((contact_id, name)) == value:
                repeats.append((contact_id, name, value))
            last[(contact_id, name)] = value
    return repeats


def sandbox_env(sandbox: HubSpotSandbox, db: Path, token: str, secret: str) -> dict[str, str]:
    """The environment of a leadtherm process on the HubSpot sandbox, its rate limit out of the way of the tests."""
    return {
        "HUBSPOT_ACCESS_TOKEN": token,
        "HUBSPOT_CLIENT_SECRET": secret,
        "HUBSPOT_API_BASE": sandbox.base_url,
        "HUBSPOT_RATE_LIMIT": "10000/10",
        "LEADTHERM_DB": str(db),
    }


@contextmanager
def running_portal(token: str) -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox on 127.0.0.1 whose rate limit stays out of the tests' way; stopped afterwards."""
    portal = HubSpotSandbox(access_token=token, rate_limit=(10_000, 10.0))
    portal.start()
    try:
        yield portal
    finally:
        portal.webhook_url = None
        portal.stop()
