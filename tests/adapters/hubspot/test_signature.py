"""leadtherm signs HubSpot requests exactly as HubSpot's own SDK does (the route must not import the SDK)."""

from __future__ import annotations

import pytest
from hubspot.utils.signature import Signature

from adapters.hubspot.signature import hubspot_signature

REQUESTS = [
    ("s3cret", '{"objectId": 1}', "https://example.com/webhooks/hubspot", "POST", "1700000000000"),
    ("another", "[]", "https://example.com/webhooks/hubspot?x=1&y=%20", "POST", "1"),
    ("ünïcode-secret", '[{"propertyValue": "Zoë"}]', "https://example.com/w/h", "GET", "1700000000123"),
    ("", "", "", "POST", ""),
]


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
@pytest.mark.parametrize(("secret", "body", "uri", "method", "timestamp"), REQUESTS)
def test_each_signature_version_matches_the_hubspot_sdk(
    version: str, secret: str, body: str, uri: str, method: str, timestamp: str
) -> None:
    expected = Signature.get_signature(secret, body, version, uri, method, timestamp)
    assert hubspot_signature(secret, body, version, uri, method, timestamp) == expected


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="v4"):
        hubspot_signature("secret", "{}", "v4", "https://example.com/", "POST")
