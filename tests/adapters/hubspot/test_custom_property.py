"""A custom HubSpot property end to end: setup, change, webhook, fetch, score, write with its reason."""

from __future__ import annotations

from pathlib import Path

from hubspot.crm.properties import OptionInput, PropertyCreate
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.hubspot.client import HubSpotClient
from integration.composition.runtime import build_runtime
from tests.adapters.custom_fields import REASON, custom_folder, serving
from tests.adapters.hubspot.conftest import SECRET, TOKEN


def test_a_custom_hubspot_property_is_scored_end_to_end(sandbox: HubSpotSandbox, tmp_path: Path) -> None:
    hubspot = sandbox
    folder = custom_folder(
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
    with serving(runtime, env) as url:
        hubspot.configure_webhooks(f"{url}/webhooks/hubspot", SECRET, time_scale=0.0005, batch_window=0.02)
        contact = hubspot.create_contact({"email": "k.holm@nordlys.example", "jobtitle": "Marketing Manager"})
        assert wait_until(lambda: hubspot.contact(contact).get("leadtherm_reasons") is not None, 10)
        assert "Interested in the analytics suite" not in hubspot.contact(contact)["leadtherm_reasons"]
        score = int(hubspot.contact(contact)["leadtherm_score"])
        hubspot.update_contact(contact, {"product_interest": "analytics"})
        assert wait_until(lambda: REASON in (hubspot.contact(contact).get("leadtherm_reasons") or ""), 10)
        assert int(hubspot.contact(contact)["leadtherm_score"]) == score + 10  # fit weight 0.5
