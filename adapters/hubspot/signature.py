"""HubSpot's request signatures (v1, v2, v3), as its SDK computes them.

Written out here (a few lines of hashlib) rather than imported from `hubspot.utils.signature`: importing that
module runs the whole HubSpot SDK's `__init__` (urllib3, every API client), which the webhook route, the Lambda
HTTP handler and `leadtherm check` must not pay for. tests/adapters/hubspot/test_signature.py holds the two equal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# Declared by the plugin, read by the route: here, so that declaring it loads no route.
LEGACY_SETTING = "HUBSPOT_ALLOW_LEGACY_SIGNATURES"


def hubspot_signature(secret: str, body: str, version: str, uri: str, method: str, timestamp: str = "") -> str:
    """The signature HubSpot sends for this request: hex SHA-256 (v1, v2) or base64 HMAC-SHA-256 (v3)."""
    if version == "v1":
        return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()
    if version == "v2":
        return hashlib.sha256(f"{secret}{method}{uri}{body}".encode()).hexdigest()
    if version == "v3":
        digest = hmac.new(secret.encode(), f"{method}{uri}{body}{timestamp}".encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()
    raise ValueError(f"unknown HubSpot signature version {version!r}")
