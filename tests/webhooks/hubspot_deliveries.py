"""A `serve` environment on the HubSpot sandbox and signed deliveries to send it (shutdown and storage tests)."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from integration.composition.runtime import build_runtime
from tests.adapters.hubspot.helpers import sandbox_env
from tests.webhooks.fuzzing import HUBSPOT_SECRET, hubspot_v3

TOKEN = "deliveries-token"
_numbers = itertools.count(900_000)


def serve_env(portal: HubSpotSandbox, db: Path) -> dict[str, str]:
    """The environment of a `serve` on the sandbox (its output fields set up), nothing of the caller's CRMs."""
    values = sandbox_env(portal, db, TOKEN, HUBSPOT_SECRET)
    runtime = build_runtime(values, ["hubspot"])
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], values)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "LEADTHERM_"))}
    return {**clean, **values}


@pytest.fixture
def portal() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(access_token=TOKEN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def delivery() -> bytes:
    """One contact.propertyChange event on the sandbox's first contact, with an id never sent before."""
    event = {
        "eventId": next(_numbers), "subscriptionId": 1, "portalId": 1, "appId": 1,
        "occurredAt": int(time.time() * 1000), "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": 1001, "changeSource": "CRM_UI", "sourceId": "userId:1", "propertyName": "jobtitle",
        "propertyValue": "CTO",
    }  # fmt: skip
    return json.dumps([event]).encode()


def deliver(base_url: str) -> requests.Response:
    """POST one signed delivery to /webhooks/hubspot."""
    url = f"{base_url}/webhooks/hubspot"
    body = delivery()
    return requests.post(url, data=body, headers=hubspot_v3(url, body), timeout=10)
