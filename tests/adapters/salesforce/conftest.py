"""Salesforce fixtures: the HTTPS sandbox, trusted through REQUESTS_CA_BUNDLE, and the real SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.field_setup import setup
from adapters.salesforce.plugin import connect
from mappings.loader import load_mapping

OUTBOUND_SECRET = "outbound-url-secret-0123456789"  # what the admin put into the endpoint URL


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceSandbox]:
    org = SalesforceSandbox()
    org.start()
    # The machine may export its own CA bundle; requests lets that override a session's verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle_path)
    yield org
    org.outbound_url = None
    org.stop()


def password_env(sandbox: SalesforceSandbox) -> dict[str, str]:
    return {
        "SALESFORCE_USERNAME": sandbox.username,
        "SALESFORCE_PASSWORD": sandbox.password,
        "SALESFORCE_SECURITY_TOKEN": sandbox.security_token,
        "SALESFORCE_DOMAIN": sandbox.login_domain,
        "SALESFORCE_ORG_ID": sandbox.org_id,
        "SALESFORCE_OUTBOUND_SECRET": OUTBOUND_SECRET,
    }


@pytest.fixture
def client(sandbox: SalesforceSandbox) -> SalesforceClient:
    mapping = load_mapping("salesforce")
    sf = connect(password_env(sandbox))
    setup(sf, mapping, SalesforceClient(mapping, sf).user_id)
    return SalesforceClient(mapping, sf)
