"""A custom Salesforce picklist end to end: setup, change, outbound message, fetch, score, write with its reason."""

from __future__ import annotations

from pathlib import Path

from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.salesforce.inbound import outbound_endpoint
from adapters.salesforce.plugin import connect
from integration.composition.runtime import build_runtime
from tests.adapters.custom_fields import REASON, custom_folder, serving
from tests.adapters.salesforce.conftest import OUTBOUND_SECRET, password_env


def test_a_custom_salesforce_picklist_is_scored_end_to_end(sandbox: SalesforceSandbox, tmp_path: Path) -> None:
    salesforce = sandbox
    declaration = """
custom_attributes:
  product_interest:
    field: Product_Interest__c
    kind: text
    map: {Analytics Suite: analytics, Connectors: connectors}
"""
    folder = custom_folder(tmp_path, "salesforce", declaration)
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
    with serving(runtime, env) as url:
        salesforce.configure_outbound(
            outbound_endpoint(url, OUTBOUND_SECRET), fields=("Id", "LastModifiedById"), time_scale=0.001
        )
        lead = salesforce.create_lead({"Email": "d.nowak@krakow-robotics.example", "Title": "Director of Operations",
                                       "LeadSource": "Web"})  # fmt: skip
        assert wait_until(lambda: salesforce.record("Lead", lead).get("Lead_Score_Reasons__c") is not None, 10)
        salesforce.update_record("Lead", lead, {"Product_Interest__c": "Analytics Suite"})
        assert wait_until(lambda: REASON in (salesforce.record("Lead", lead).get("Lead_Score_Reasons__c") or ""), 10)
