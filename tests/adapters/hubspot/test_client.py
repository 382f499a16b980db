"""The HubSpot CrmClient, through the real SDK against the sandbox, passes the shared contract."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.inbound import parse
from adapters.hubspot.sandbox import HubSpotSandbox
from integration.errors import AuthError, PermanentCrmError
from integration.ports import ChangeEvent, FieldWrite, RecordRef
from tests.contracts.crm_client_contract import CrmClientContract


class HubSpotHarness:
    object_type = "contact"
    writable_field = "leadtherm_score"

    def __init__(self, sandbox: HubSpotSandbox, client: HubSpotClient) -> None:
        self.sandbox = sandbox
        self.client = client
        self.n = 0

    def create(self, fields: dict[str, Any]) -> RecordRef:
        self.n += 1
        contact_id = self.sandbox.create_contact({"email": f"p{self.n}@acme.example", "jobtitle": "CEO", **fields})
        return RecordRef("hubspot", "contact", contact_id)

    def delete(self, ref: RecordRef) -> None:
        self.sandbox.delete_contact(ref.record_id)

    def read(self, ref: RecordRef, field: str) -> Any:
        return self.sandbox.contact(ref.record_id).get(field)

    def inject_rate_limit(self, retry_after: float) -> None:
        self.sandbox.fail_next(429, retry_after=retry_after)

    def _event(self, ref: RecordRef, prop: str, source: str) -> ChangeEvent:
        raw = {
            "eventId": 99, "subscriptionId": 1, "portalId": 62515, "appId": 1160452, "occurredAt": 1764000000000,
            "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": int(ref.record_id),
            "propertyName": prop, "propertyValue": "1", "changeSource": source, "sourceId": "1160452",
        }  # fmt: skip
        [event] = parse(json.dumps([raw]).encode())
        return event

    def echo_of_own_write(self, ref: RecordRef) -> ChangeEvent:
        self.client.write([FieldWrite(ref, {"leadtherm_score": 50})])
        return self._event(ref, "leadtherm_score", "INTEGRATION")

    def change_by_person(self, ref: RecordRef) -> ChangeEvent:
        return self._event(ref, "jobtitle", "CRM_UI")


class TestHubSpotClient(CrmClientContract):
    @pytest.fixture
    def harness(self, sandbox: HubSpotSandbox, client: HubSpotClient) -> HubSpotHarness:
        return HubSpotHarness(sandbox, client)


def test_a_changed_deal_names_its_contacts(sandbox: HubSpotSandbox, client: HubSpotClient) -> None:
    ana = sandbox.create_contact({"email": "ana@acme.example"})
    ben = sandbox.create_contact({"email": "ben@acme.example"})
    deal = sandbox.create_deal({"dealname": "Pilot", "amount": "12000"}, [ana, ben])
    lonely = sandbox.create_deal({"dealname": "No contacts"})
    links = client.related([RecordRef("hubspot", "deal", deal), RecordRef("hubspot", "deal", lonely)])
    assert sorted(r.record_id for r in links[RecordRef("hubspot", "deal", deal)]) == sorted([ana, ben])
    assert links[RecordRef("hubspot", "deal", lonely)] == []


def test_a_won_deal_reaches_the_contact_through_hubspots_rollups(
    sandbox: HubSpotSandbox, client: HubSpotClient
) -> None:
    ana = sandbox.create_contact({"email": "ana@acme.example"})
    deal = sandbox.create_deal({"dealname": "Pilot", "amount": "12000"}, [ana])
    sandbox.update_deal(deal, {"dealstage": "closedwon"})
    record = client.fetch([RecordRef("hubspot", "contact", ana)]).records[RecordRef("hubspot", "contact", ana)]
    assert float(record["total_revenue"]) == 12000
    assert record["lifecyclestage"] == "customer"


def test_a_revoked_token_is_an_auth_error_naming_the_setting(sandbox: HubSpotSandbox, client: HubSpotClient) -> None:
    sandbox.expire_token()
    with pytest.raises(AuthError, match="HUBSPOT_ACCESS_TOKEN"):
        client.fetch([RecordRef("hubspot", "contact", "1")])


def test_more_than_a_hundred_records_are_refused_before_calling(client: HubSpotClient) -> None:
    refs = [RecordRef("hubspot", "contact", str(n)) for n in range(101)]
    with pytest.raises(PermanentCrmError, match="at most 100"):
        client.fetch(refs)
