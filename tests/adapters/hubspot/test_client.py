"""The HubSpot CrmClient, through the real SDK against the sandbox, passes the shared contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.field_setup import setup
from adapters.hubspot.inbound import parse
from integration.errors import AuthError, OutputFieldsMissing, PermanentCrmError, UnexpectedAnswer
from integration.ports import ChangeEvent, FieldWrite, RecordRef
from integration.service.worker import drain
from mappings.loader import load_mapping
from tests.adapters.hubspot.conftest import TOKEN
from tests.contracts.crm_client_contract import CrmClientContract
from tests.pipeline_world import make_world


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


def test_a_200_html_page_is_a_retriable_error_never_a_deletion(sandbox: HubSpotSandbox, client: HubSpotClient) -> None:
    ref = RecordRef("hubspot", "contact", sandbox.create_contact({"email": "ana@acme.example"}))
    sandbox.answer_html_next(4)
    with pytest.raises(UnexpectedAnswer):
        client.fetch([ref])
    with pytest.raises(UnexpectedAnswer):
        client.write([FieldWrite(ref, {"leadtherm_score": 50})])
    with pytest.raises(UnexpectedAnswer):
        client.page("contact", None, 10)
    with pytest.raises(UnexpectedAnswer):
        client.count("contact")
    assert ref in client.fetch([ref]).records  # the next real answer is read as usual


def test_through_the_pipeline_an_html_answer_is_retried_and_the_state_is_kept(
    sandbox: HubSpotSandbox, client: HubSpotClient, tmp_path: Path
) -> None:
    world = make_world(tmp_path, client=client)
    ref = RecordRef("hubspot", "contact", sandbox.create_contact({"email": "ana@acme.example", "jobtitle": "CEO"}))
    world.queue.enqueue([world.event(ref, "e1")])
    assert drain(world.pipeline).written == 1
    sandbox.answer_html_next(1)
    world.queue.enqueue([world.event(ref, "e2")])
    report = world.pipeline.run_once()
    assert report.retried == 1 and report.forgotten == 0
    assert world.state.load([ref])  # not forgotten
    assert world.state.unprocessed(["e2"]) == {"e2"}  # not settled


def test_without_setup_the_outputs_are_missing_and_a_write_is_a_crm_wide_failure(sandbox: HubSpotSandbox) -> None:
    mapping = load_mapping("hubspot")
    bare = HubSpotClient(mapping, TOKEN, sandbox.base_url)
    assert bare.missing_outputs() == sorted(mapping.own_fields)
    ref = RecordRef("hubspot", "contact", sandbox.create_contact({"email": "ana@acme.example"}))
    with pytest.raises(OutputFieldsMissing, match="run leadtherm setup hubspot"):
        bare.write([FieldWrite(ref, {"leadtherm_score": 50})])
    setup(bare.api, mapping)
    assert bare.missing_outputs() == []
