"""Salesforce end to end: a change -> SOAP outbound message -> Ack -> queue -> SOQL -> Collections update."""

from __future__ import annotations

import math
import random
import time
from dataclasses import replace

import pytest
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox
from leadtherm_sandboxes.waiting import wait_until as wait_for

from adapters.salesforce.inbound import outbound_endpoint
from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime
from integration.ports.inbound import InboundRequest
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import drain
from tests.adapters.salesforce.conftest import CALLOUT_SECRET, OUTBOUND_SECRET, Served, password_env
from tests.expected import expected_outputs

FAST_RETRY = PipelineSettings(retry=replace(POLICY, queue_delay=0.05))
HOT_LEAD = {
    "Email": "cto@nordlys.example", "Title": "Chief Technology Officer", "NumberOfEmployees": 300,
    "Industry": "Software", "Country": "Sweden", "LeadSource": "Employee Referral", "Rating": "Hot",
    "Status": "Working - Contacted", "LastActivityDate": time.strftime("%Y-%m-%d"),
}  # fmt: skip
BANT = {"BANT_Need__c": True, "BANT_Budget__c": True, "BANT_Authority__c": True, "BANT_Timeline__c": True}


@pytest.fixture
def live(served: Served) -> Runtime:
    served.start_worker()
    return served.runtime


def test_a_lead_whose_changes_make_it_hot_is_written_within_two_seconds(
    sandbox: SalesforceSandbox, live: Runtime
) -> None:
    lead = sandbox.create_lead(HOT_LEAD)
    assert wait_for(lambda: sandbox.record("Lead", lead).get("Lead_Temperature__c") == "warm", 5)
    started = time.monotonic()
    sandbox.update_record("Lead", lead, BANT)  # a rep ticks the BANT boxes
    assert wait_for(lambda: sandbox.record("Lead", lead).get("Lead_Temperature__c") == "hot", 2.0)
    assert time.monotonic() - started < 2.0
    held = sandbox.record("Lead", lead)
    assert held["Lead_Stage__c"] == "sql" and held["Lead_Score__c"] >= 75
    assert held["Lead_Previous_Temperature__c"] == "warm"
    assert held["Lead_Next_Action__c"].startswith("Hand to sales")


def test_a_converted_leads_contact_is_written_as_an_opportunity_then_as_a_customer_once_won(
    sandbox: SalesforceSandbox, live: Runtime
) -> None:
    lead = sandbox.create_lead({**HOT_LEAD, **BANT})
    assert wait_for(lambda: sandbox.record("Lead", lead).get("Lead_Stage__c") == "sql", 5)
    contact = sandbox.convert_lead(lead)  # the Lead's change is delivered: leadtherm follows it
    assert wait_for(lambda: sandbox.record("Contact", contact).get("Lead_Stage__c") == "opportunity", 5)
    sandbox.close_opportunity(str(sandbox.record("Lead", lead)["ConvertedOpportunityId"]), won=True)
    sandbox.update_record("Contact", contact, {"Title": "CTO and co-founder"})  # the Contact's next change
    assert wait_for(lambda: sandbox.record("Contact", contact).get("Lead_Stage__c") == "customer", 5)


def test_winning_the_opportunity_alone_makes_the_converted_contact_a_customer(
    sandbox: SalesforceSandbox, served: Served
) -> None:
    # The admin adds an outbound message on Opportunity (stage changes) to the same endpoint.
    sandbox.configure_outbound(str(sandbox.outbound_url), objects=("Lead", "Contact", "Opportunity"))
    served.start_worker()
    lead = sandbox.create_lead({**HOT_LEAD, **BANT})
    contact = sandbox.convert_lead(lead)
    assert wait_for(lambda: sandbox.record("Contact", contact).get("Lead_Stage__c") == "opportunity", 5)
    assert sandbox.flush_outbound(5) and wait_for(lambda: served.runtime.queue.stats().depth == 0, 5)
    writes_before = len(sandbox.writes)
    sandbox.close_opportunity(str(sandbox.record("Lead", lead)["ConvertedOpportunityId"]), won=True)
    assert wait_for(lambda: sandbox.record("Contact", contact).get("Lead_Stage__c") == "customer", 5)
    assert [r for r, _ in sandbox.writes[writes_before:]] == [contact]  # that Contact, once
    assert served.runtime.queue.stats().dead_letters == 0


def test_an_opportunity_no_lead_was_converted_into_changes_nothing(sandbox: SalesforceSandbox, served: Served) -> None:
    sandbox.configure_outbound(str(sandbox.outbound_url), objects=("Lead", "Contact", "Opportunity"))
    served.start_worker()
    opportunity = sandbox.create_record("Opportunity", {"Name": "Direct deal", "StageName": "Prospecting"})
    sandbox.close_opportunity(opportunity, won=True)
    assert sandbox.flush_outbound(5) and wait_for(lambda: served.runtime.queue.stats().depth == 0, 5)
    stats = served.runtime.queue.stats()
    assert sandbox.delivered >= 2 and sandbox.writes == [] and stats.dead_letters == 0


def test_a_flow_callout_naming_the_won_opportunity_rescores_its_contact(
    sandbox: SalesforceSandbox, served: Served
) -> None:
    served.start_worker()
    lead = sandbox.create_lead({**HOT_LEAD, **BANT})
    contact = sandbox.convert_lead(lead)
    assert wait_for(lambda: sandbox.record("Contact", contact).get("Lead_Stage__c") == "opportunity", 5)
    sandbox.outbound_url = None  # from here on only the flow tells leadtherm
    opportunity = str(sandbox.record("Lead", lead)["ConvertedOpportunityId"])
    sandbox.close_opportunity(opportunity, won=True)
    url = f"{served.app_url}/webhooks/salesforce/flow"
    assert sandbox.send_flow_callout(url, CALLOUT_SECRET, [("Opportunity", opportunity)]) == 202
    assert wait_for(lambda: sandbox.record("Contact", contact).get("Lead_Stage__c") == "customer", 5)


def test_the_echo_of_its_own_update_causes_no_second_write(sandbox: SalesforceSandbox, live: Runtime) -> None:
    lead = sandbox.create_lead(HOT_LEAD)
    assert wait_for(lambda: sandbox.record("Lead", lead).get("Lead_Temperature__c") == "warm", 5)
    time.sleep(0.5)  # the outbound message our own update caused has come and gone
    assert sandbox.flush_outbound(5) and wait_for(lambda: live.queue.stats().depth == 0, 5)
    assert [r for r, _ in sandbox.writes] == [lead]
    assert sandbox.delivered >= 2  # the change, and the echo of our write


def test_the_same_notification_delivered_twice_causes_one_write(sandbox: SalesforceSandbox, live: Runtime) -> None:
    sandbox.outbound_url = None  # this test delivers by hand
    lead = sandbox.create_lead(HOT_LEAD)
    notification = {
        "Id": "04l5g0000000777AAA",
        "type": "Lead",
        "values": {"Id": lead, "LastModifiedById": "0055g00000PersonAAA"},
    }
    body = sandbox.outbound_body([notification])
    [route] = [r for r in routes_of(live, password_env(sandbox)) if r.path == "/webhooks/salesforce"]
    for _ in range(2):  # Salesforce redelivers until it sees an Ack
        request = InboundRequest("POST", outbound_endpoint("http://127.0.0.1", OUTBOUND_SECRET), {}, body)
        assert route.handle(request, live.queue.enqueue).status == 200
    assert wait_for(lambda: sandbox.record("Lead", lead).get("Lead_Temperature__c") is not None, 5)
    assert wait_for(lambda: live.queue.stats().depth == 0, 5)
    assert [r for r, _ in sandbox.writes] == [lead]


def test_with_ten_percent_injected_faults_a_5000_notification_run_converges(
    sandbox: SalesforceSandbox, live: Runtime
) -> None:
    sandbox.outbound_url, target = None, sandbox.outbound_url  # seed quietly
    leads = [sandbox.create_lead({**HOT_LEAD, "Email": f"p{n}@acme.example"}) for n in range(300)]
    sandbox.outbound_url = target
    sandbox.set_faults(rate=0.10)
    # Coalescing turns 5,000 notifications into a handful of calls: make sure some of them fail.
    sandbox.fail_next(503, "SERVER_UNAVAILABLE", times=3)
    rng = random.Random(6)
    ratings = ["Hot", "Warm", "Cold", ""]
    for n in range(5000):
        sandbox.update_record("Lead", rng.choice(leads), {"Rating": ratings[n % 4]})
    assert sandbox.flush_outbound(60)
    assert wait_for(lambda: live.queue.stats().depth == 0, 90, step=0.2)
    sandbox.set_faults(0.0)
    wrong = []
    for lead in leads:
        record = sandbox.record("Lead", lead)
        want = expected_outputs("salesforce", {"attributes": {"type": "Lead"}, **record})
        if record["Lead_Temperature__c"] != want["temperature"] or int(record["Lead_Score__c"]) != want["score"]:
            wrong.append(lead)
    assert wrong == []
    assert live.queue.dead_letters() == []
    assert sandbox.faults_served >= 3  # the faults really happened, and were retried through


def test_a_signed_flow_callout_rescores_the_lead(sandbox: SalesforceSandbox, served: Served) -> None:
    served.start_worker()
    sandbox.outbound_url = None  # the org uses a flow callout instead of an outbound message
    lead = sandbox.create_lead(HOT_LEAD)
    url = f"{served.app_url}/webhooks/salesforce/flow"
    assert sandbox.send_flow_callout(url, CALLOUT_SECRET, [("Lead", lead)]) == 202
    assert wait_for(lambda: sandbox.record("Lead", lead).get("Lead_Temperature__c") == "warm", 5)
    assert sandbox.send_flow_callout(url, "wrong-secret", [("Lead", lead)]) == 401


def test_a_thousand_notifications_over_300_leads_cost_the_minimum_calls(
    sandbox: SalesforceSandbox, served: Served
) -> None:
    target, sandbox.outbound_url = sandbox.outbound_url, None
    leads = [sandbox.create_lead({**HOT_LEAD, "Email": f"p{n}@acme.example"}) for n in range(300)]
    sandbox.outbound_url = target
    rng = random.Random(4)
    for n in range(1000):
        sandbox.update_record(
            "Lead", leads[n] if n < 300 else rng.choice(leads), {"Rating": "Warm" if n % 2 else "Hot"}
        )
    assert sandbox.flush_outbound(30)
    # flush_outbound returns once the last delivery left the sandbox; wait until it is queued too.
    assert wait_for(lambda: served.runtime.queue.stats().depth >= 1000, 10)
    report = drain(served.runtime.pipeline)  # the whole burst is queued: process it now
    stats = served.runtime.clients["salesforce"].stats
    assert report.records == 300
    assert stats.calls["fetch"] + stats.calls["write"] - stats.retries <= math.ceil(300 / 200) + math.ceil(
        report.written / 200
    )
