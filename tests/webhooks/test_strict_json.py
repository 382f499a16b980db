"""NaN and Infinity are not JSON: a signed delivery that holds one is refused with 400 and the reason.

Python's json module reads them by default; a CRM never sends them, so one in a signed body is a
broken or hostile sender, and acknowledging it would queue a value nothing downstream can hold.
Through the real `leadtherm serve` on 127.0.0.1, with each CRM's own signature.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.inbound import callout_signature
from harness.servers import Serve
from integration.composition.runtime import build_runtime
from tests.adapters.hubspot.helpers import sandbox_env

TOKEN, SECRET, CALLOUT_SECRET = "strict-token", "strict-secret", "strict-callout-secret-0123456789"
TOKENS = ["NaN", "Infinity", "-Infinity"]
NOT_JSON = "is not a JSON number (RFC 8259 has no NaN or Infinity)"


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("strict")
    hubspot = HubSpotSandbox(access_token=TOKEN)
    hubspot.start()
    salesforce = SalesforceSandbox()
    salesforce.start()
    session, base = salesforce.issue_session()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "LEADTHERM_"))}
    env = {
        **clean,
        **sandbox_env(hubspot, folder / "leadtherm.db", TOKEN, SECRET),
        "SALESFORCE_INSTANCE_URL": base,
        "SALESFORCE_ACCESS_TOKEN": session,
        "SALESFORCE_CALLOUT_SECRET": CALLOUT_SECRET,
        "REQUESTS_CA_BUNDLE": salesforce.ca_bundle_path,
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", salesforce.ca_bundle_path)  # requests reads it from os.environ
        runtime = build_runtime(env, ["hubspot", "salesforce"])
        for name, plugin in runtime.plugins.items():
            plugin.setup(runtime.mappings[name], env)  # serve refuses to start before the output fields exist
    process = Serve(env)
    assert process.url is not None
    try:
        yield process.url
    finally:
        process.stop()
        salesforce.stop()
        hubspot.stop()


def _hubspot_body(value: str) -> bytes:
    event = {
        "eventId": 1, "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 1001,
        "propertyName": "hs_analytics_num_page_views", "propertyValue": "7", "changeSource": "CRM_UI",
    }  # fmt: skip
    return json.dumps([event]).replace('"propertyValue": "7"', f'"propertyValue": {value}').encode()


def _signed_hubspot(url: str, body: bytes) -> dict[str, str]:
    signer = HubSpotSandbox()
    signer.client_secret = SECRET
    return signer.signed_request(url, body)


@pytest.mark.parametrize("token", TOKENS)
def test_a_signed_hubspot_delivery_with_nan_or_infinity_is_refused_with_400_and_the_reason(
    serve: str, token: str
) -> None:
    url = f"{serve}/webhooks/hubspot"
    body = _hubspot_body(token)
    answer = requests.post(url, data=body, headers=_signed_hubspot(url, body), timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == f"body is not JSON: {token} {NOT_JSON}"


def test_the_same_hubspot_delivery_with_a_number_is_acknowledged(serve: str) -> None:
    url = f"{serve}/webhooks/hubspot"
    body = _hubspot_body("7")
    answer = requests.post(url, data=body, headers=_signed_hubspot(url, body), timeout=10)
    assert answer.status_code == 204, answer.text


def _callout(extra: str) -> bytes:
    return ('{"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}], "score_hint": ' + extra + "}").encode()


def _post_callout(serve: str, body: bytes) -> requests.Response:
    signed_at = int(time.time())
    header = f"t={signed_at},v1={callout_signature(CALLOUT_SECRET, signed_at, body)}"
    return requests.post(
        f"{serve}/webhooks/salesforce/flow",
        data=body,
        headers={"X-Leadtherm-Signature": header, "Content-Type": "application/json"},
        timeout=10,
    )


@pytest.mark.parametrize("token", TOKENS)
def test_a_signed_flow_callout_with_nan_or_infinity_is_refused_with_400_and_the_reason(serve: str, token: str) -> None:
    answer = _post_callout(serve, _callout(token))
    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == f"body is not JSON: {token} {NOT_JSON}"


def test_the_same_flow_callout_with_a_number_is_accepted(serve: str) -> None:
    assert _post_callout(serve, _callout("1.5")).status_code == 202
