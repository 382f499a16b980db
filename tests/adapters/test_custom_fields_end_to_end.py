"""An admin's own CRM field, end to end in both sandboxes: setup, change, delivery, fetch, score, write.

The admin creates the field in the CRM (leadtherm never does: it is theirs), declares it under
`custom_attributes`, and writes a rule on it; the reason then shows on the record.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hubspot.crm.properties import OptionInput, PropertyCreate
from waitress.server import create_server

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.sandbox import HubSpotSandbox
from adapters.salesforce.inbound import outbound_endpoint
from adapters.salesforce.plugin import connect
from adapters.salesforce.sandbox import SalesforceSandbox
from integration.runtime import Runtime, build_runtime
from integration.waiting import wait_until
from integration.worker import run_worker
from mappings.loader import PACKAGED
from tests.adapters.salesforce.conftest import OUTBOUND_SECRET, password_env
from webhooks.app import AppConfig, create_app
from webhooks.serve import routes_of

TOKEN, SECRET = "test-token", "test-client-secret"
RULE = """
  - label: Interested in the analytics suite
    attribute: product_interest
    is: analytics
    points: 20
"""


def _folder(tmp_path: Path, crm: str, declaration: str) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for name in ("scoring.yaml", "hubspot.yaml", "salesforce.yaml"):
        shutil.copy(PACKAGED / name, folder / name)
    (folder / f"{crm}.yaml").write_text((PACKAGED / f"{crm}.yaml").read_text() + declaration)
    scoring = (PACKAGED / "scoring.yaml").read_text().replace("\nengagement:\n", RULE + "\nengagement:\n", 1)
    (folder / "scoring.yaml").write_text(scoring)
    return folder


@contextmanager
def _serve(runtime: Runtime, env: dict[str, str]) -> Iterator[str]:
    stop = threading.Event()
    server: Any = create_server(create_app(AppConfig(runtime.queue, routes_of(runtime, env))), port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    threading.Thread(target=run_worker, args=(runtime.pipeline, stop, 0.02), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        server.close()


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    portal = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    portal.start()
    yield portal
    portal.stop()


def test_a_custom_hubspot_property_is_scored_end_to_end(hubspot: HubSpotSandbox, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, "hubspot", "\ncustom_attributes:\n  product_interest: {field: product_interest, kind: text}\n"
    )
    env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_CLIENT_SECRET": SECRET, "HUBSPOT_API_BASE": hubspot.base_url,
           "HUBSPOT_RATE_LIMIT": "10000/10", "LEADTHERM_DB": str(tmp_path / "leadtherm.db")}  # fmt: skip
    runtime = build_runtime(env, ["hubspot"], folder)
    mapping = runtime.mappings["hubspot"]
    before = runtime.plugins["hubspot"].setup(mapping, env)
    assert "property product_interest (read by product_interest)" in before.missing  # not created yet: said so
    # The admin's own property, created in HubSpot by the admin (through the same SDK).
    api = HubSpotClient(mapping, TOKEN, hubspot.base_url).api
    options = [OptionInput(label=v.title(), value=v, display_order=i, hidden=False)
               for i, v in enumerate(("analytics", "connectors"))]  # fmt: skip
    api.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(name="product_interest", label="Product interest", type="enumeration",
                       field_type="select", group_name="contactinformation", options=options),
    )  # fmt: skip
    assert runtime.plugins["hubspot"].setup(mapping, env).missing == []
    with _serve(runtime, env) as url:
        hubspot.configure_webhooks(f"{url}/webhooks/hubspot", SECRET, time_scale=0.0005, batch_window=0.02)
        contact = hubspot.create_contact({"email": "k.holm@nordlys.example", "jobtitle": "Marketing Manager"})
        assert wait_until(lambda: hubspot.contact(contact).get("leadtherm_reasons") is not None, 10)
        assert "Interested in the analytics suite" not in hubspot.contact(contact)["leadtherm_reasons"]
        score = int(hubspot.contact(contact)["leadtherm_score"])
        hubspot.update_contact(contact, {"product_interest": "analytics"})
        reason = "Interested in the analytics suite (+20)"
        assert wait_until(lambda: reason in (hubspot.contact(contact).get("leadtherm_reasons") or ""), 10)
        assert int(hubspot.contact(contact)["leadtherm_score"]) == score + 10  # fit weight 0.5


@pytest.fixture
def salesforce(monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceSandbox]:
    org = SalesforceSandbox()
    org.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle_path)
    yield org
    org.outbound_url = None
    org.stop()


def test_a_custom_salesforce_picklist_is_scored_end_to_end(salesforce: SalesforceSandbox, tmp_path: Path) -> None:
    declaration = """
custom_attributes:
  product_interest:
    field: Product_Interest__c
    kind: text
    map: {Analytics Suite: analytics, Connectors: connectors}
"""
    folder = _folder(tmp_path, "salesforce", declaration)
    env = {**password_env(salesforce), "LEADTHERM_DB": str(tmp_path / "leadtherm.db"),
           "SALESFORCE_RATE_LIMIT": "10000/10"}  # fmt: skip
    runtime = build_runtime(env, ["salesforce"], folder)
    mapping = runtime.mappings["salesforce"]
    # The admin's own picklist, created in Setup (here through the Tooling API, as Setup does).
    picklist = {"restricted": True, "valueSetDefinition": {"sorted": False, "value": [
        {"fullName": v, "label": v, "default": False} for v in ("Analytics Suite", "Connectors")]}}  # fmt: skip
    sf = connect(env)
    sf.toolingexecute(
        "sobjects/CustomField",
        method="POST",
        data={"FullName": "Lead.Product_Interest__c",
              "Metadata": {"label": "Product Interest", "type": "Picklist", "valueSet": picklist}},
    )  # fmt: skip
    report = runtime.plugins["salesforce"].setup(mapping, env)
    assert "read on Lead.Product_Interest__c" in report.created  # setup lets the integration user see it
    assert report.missing == []
    with _serve(runtime, env) as url:
        salesforce.configure_outbound(
            outbound_endpoint(url, OUTBOUND_SECRET), fields=("Id", "LastModifiedById"), time_scale=0.001
        )
        lead = salesforce.create_lead({"Email": "d.nowak@krakow-robotics.example", "Title": "Director of Operations",
                                       "LeadSource": "Web"})  # fmt: skip
        assert wait_until(lambda: salesforce.record("Lead", lead).get("Lead_Score_Reasons__c") is not None, 10)
        salesforce.update_record("Lead", lead, {"Product_Interest__c": "Analytics Suite"})
        assert wait_until(
            lambda: "Interested in the analytics suite (+20)"
            in (salesforce.record("Lead", lead).get("Lead_Score_Reasons__c") or ""),
            10,
        )
