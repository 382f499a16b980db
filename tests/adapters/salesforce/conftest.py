"""Salesforce fixtures: the HTTPS sandbox, trusted through REQUESTS_CA_BUNDLE, and the real SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import waitress
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.field_setup import setup
from adapters.salesforce.inbound import outbound_endpoint
from adapters.salesforce.plugin import connect
from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime, build_runtime
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import run_worker
from mappings.loader import load_mapping
from webhooks.app import AppConfig, create_app

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


CALLOUT_SECRET = "flow-secret"


@dataclass
class Served:
    runtime: Runtime
    app_url: str
    stop: threading.Event

    def start_worker(self) -> None:
        threading.Thread(target=run_worker, args=(self.runtime.pipeline, self.stop, 0.02), daemon=True).start()


@pytest.fixture
def served(sandbox: SalesforceSandbox, tmp_path: Path) -> Iterator[Served]:
    """The app receiving the org's outbound messages, with no worker yet."""
    env = {**password_env(sandbox), "LEADTHERM_DB": str(tmp_path / "leadtherm.db"), "SALESFORCE_RATE_LIMIT": "10000/10",
           "SALESFORCE_CALLOUT_SECRET": CALLOUT_SECRET}  # fmt: skip
    build_runtime(env, ["salesforce"]).plugins["salesforce"].setup(load_mapping("salesforce"), env)
    runtime = build_runtime(
        env, ["salesforce"], settings=PipelineSettings(retry=replace(POLICY, queue_delay=0.05))
    )  # sees the new fields
    server: Any = waitress.create_server(
        create_app(AppConfig(runtime.queue, routes_of(runtime, env))), host="127.0.0.1", port=0, threads=4
    )
    threading.Thread(target=server.run, daemon=True).start()
    app_url = f"http://127.0.0.1:{server.effective_port}"
    endpoint = outbound_endpoint(app_url, OUTBOUND_SECRET)  # as `setup salesforce` prints it
    sandbox.configure_outbound(endpoint, fields=("Id", "LastModifiedById"), time_scale=0.001)
    served = Served(runtime, app_url, threading.Event())
    yield served
    sandbox.outbound_url = None
    served.stop.set()
    server.close()
