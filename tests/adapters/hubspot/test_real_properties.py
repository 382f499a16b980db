"""Through the real SDK: the sandbox portal's contacts have what real ones have, and open deals read from them."""

from __future__ import annotations

from datetime import UTC, datetime

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.client import HubSpotClient
from integration.domain.normalize import Normalizer
from integration.ports import RecordRef
from mappings.loader import load_mapping
from tests.adapters.hubspot.conftest import TOKEN
from tests.real_crm_fields import HUBSPOT_COMPANY_ONLY, HUBSPOT_CONTACT_PROPERTIES


def test_a_fresh_sandbox_portal_lists_the_real_default_contact_properties(sandbox: HubSpotSandbox) -> None:
    fresh = HubSpotClient(load_mapping("hubspot"), TOKEN, sandbox.base_url)  # no setup: a portal as HubSpot gives it
    listed = {p.name for p in fresh.api.crm.properties.core_api.get_all("contacts").results}
    assert listed == HUBSPOT_CONTACT_PROPERTIES
    assert not listed & HUBSPOT_COMPANY_ONLY


def _deals(client: HubSpotClient, contact_id: str) -> tuple[bool, bool]:
    fetched = client.fetch([RecordRef("hubspot", "contact", contact_id)])
    record = next(iter(fetched.records.values()))
    lead = Normalizer(load_mapping("hubspot")).read(record, "contact").lead
    return bool(lead.values["has_open_deal"]), bool(lead.values["has_won_deal"])


def test_a_contact_reads_as_having_an_open_deal_from_its_lifecycle_and_a_won_one_from_its_revenue(
    sandbox: HubSpotSandbox, client: HubSpotClient
) -> None:
    contact_id = sandbox.create_contact({"jobtitle": "Engineer", "lifecyclestage": "lead"})
    assert _deals(client, contact_id) == (False, False)
    deal_id = sandbox.create_deal({"dealstage": "appointmentscheduled", "amount": "5000"}, [contact_id])
    assert _deals(client, contact_id) == (True, False)
    sandbox.update_deal(deal_id, {"dealstage": "closedwon", "closedate": datetime.now(UTC).isoformat()})
    assert _deals(client, contact_id) == (False, True)
