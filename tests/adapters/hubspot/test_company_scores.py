"""HubSpot company scores end to end: sandbox -> webhooks -> queue -> pipeline -> contact and company writes."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from leadtherm_sandboxes.waiting import wait_until as wait_for

from integration.ports import ChangeEvent, RecordRef
from integration.service.backfill import backfill
from integration.service.sweep import enqueue_due
from integration.service.worker import drain
from tests.adapters.hubspot.conftest import Live

COMPANY = {"name": "Nordlys AB", "industry": "Software", "numberofemployees": "400", "country": "Sweden"}
ENGAGED = {
    "hs_analytics_source": "REFERRALS",
    "hs_analytics_num_page_views": "30",
    "hs_analytics_num_visits": "6",
    "hs_email_open": "8",
    "hs_email_click": "3",
    # engaged today: their engagement decays from here, so their temperature (and the company's) will drop
    "hs_analytics_last_visit_timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
}
PEOPLE = [
    {"email": "ceo@nordlys.example", "firstname": "Astrid", "jobtitle": "Chief Executive Officer", **ENGAGED},
    {"email": "ops@nordlys.example", "firstname": "Bjorn", "jobtitle": "Operations Manager", **ENGAGED},
    {"email": "it@nordlys.example", "firstname": "Cecilia", "jobtitle": "IT Manager", **ENGAGED},
]


def _settled(live: Live) -> bool:
    return live.sandbox.flush_webhooks(0.01) and live.runtime.queue.stats().depth == 0


def _quiet(live: Live) -> None:
    """Wait until every delivery, echo included, went round the loop."""
    assert wait_for(lambda: _settled(live), 10)
    time.sleep(0.3)
    assert wait_for(lambda: _settled(live), 10)


def _buying_group(live: Live) -> tuple[str, list[str]]:
    company = live.sandbox.create_company(COMPANY)
    people = [live.sandbox.create_contact(p) for p in PEOPLE]
    for contact in people:
        live.sandbox.associate_company(contact, company)
    assert wait_for(lambda: live.sandbox.company(company).get("leadtherm_company_engaged_people") == "3", 10)
    _quiet(live)
    return company, people


def test_a_buying_group_warming_an_account_is_written_to_the_company(live: Live) -> None:
    company, _ = _buying_group(live)
    held = live.sandbox.company(company)
    assert int(held["leadtherm_company_score"]) > 0
    assert held["leadtherm_company_coverage"] == "2"  # an executive and two managers: two roles
    reasons = held["leadtherm_company_reasons"]
    assert "3 engaged: " in reasons and "an executive" in reasons and "two managers" in reasons
    assert "Target industry" in reasons
    for person in PEOPLE:  # people are named by role, never by name or e-mail
        assert person["firstname"] not in reasons and person["email"] not in reasons


def test_a_change_to_one_contact_writes_its_contact_and_its_company_once_each(live: Live) -> None:
    company, people = _buying_group(live)
    contacts_before, companies_before = len(live.sandbox.writes), len(live.sandbox.company_writes)
    before = live.sandbox.company(company)["leadtherm_company_engagement"]
    live.sandbox.update_contact(people[1], {"hs_analytics_num_page_views": "90", "hs_email_click": "12"})
    assert wait_for(lambda: live.sandbox.company(company)["leadtherm_company_engagement"] != before, 10)
    _quiet(live)
    assert [c for c, _ in live.sandbox.writes[contacts_before:]] == [people[1]]
    assert [c for c, _ in live.sandbox.company_writes[companies_before:]] == [company]


def test_a_change_to_the_company_s_own_fields_re_scores_it(live: Live) -> None:
    company, _ = _buying_group(live)
    fit_before = int(live.sandbox.company(company)["leadtherm_company_fit"])
    live.sandbox.update_company(company, {"industry": "Mining"})
    assert wait_for(lambda: int(live.sandbox.company(company)["leadtherm_company_fit"]) < fit_before, 10)
    _quiet(live)
    assert "Target industry" not in live.sandbox.company(company)["leadtherm_company_reasons"]


def test_a_change_to_a_company_field_no_score_reads_costs_no_api_call(live: Live) -> None:
    company, _ = _buying_group(live)
    calls = dict(live.runtime.clients["hubspot"].stats.calls)
    live.sandbox.update_company(company, {"domain": "nordlys.example"})
    _quiet(live)
    assert live.runtime.clients["hubspot"].stats.calls == calls


def test_a_won_deal_makes_the_account_a_customer(live: Live) -> None:
    company, people = _buying_group(live)
    deal = live.sandbox.create_deal({"amount": "12000"}, [people[0]])
    live.sandbox.update_deal(deal, {"dealstage": "closedwon"})
    assert wait_for(lambda: live.sandbox.company(company).get("leadtherm_company_stage") == "customer", 10)


def test_a_company_is_swept_when_its_engaged_people_cool_down(live: Live) -> None:
    company, _ = _buying_group(live)
    ref = RecordRef("hubspot", "company", company)
    stored = live.runtime.state.load([ref])[ref]
    assert stored.next_drop_at is not None
    live.stop.set()  # the test drives the pipeline from here
    time.sleep(0.1)
    due = enqueue_due(live.runtime.state, live.runtime.queue, stored.next_drop_at + timedelta(seconds=1))
    assert ref in due
    report = drain(live.runtime.pipeline)
    assert report.events >= 1 and report.dead_lettered == 0


def test_companies_met_by_full_leases_are_read_and_written_once_after_them(paused: Live) -> None:
    sandbox = paused.sandbox
    companies = [sandbox.create_company({**COMPANY, "name": f"Company {n}"}) for n in range(2)]
    people = []
    for n in range(10):
        contact = sandbox.create_contact({**PEOPLE[n % 3], "email": f"p{n}@nordlys.example"})
        sandbox.associate_company(contact, companies[n % 2])  # every lease meets both companies
        people.append(contact)
    pipeline = paused.runtime.pipeline
    pipeline.settings = replace(pipeline.settings, lease_size=5)
    now = datetime.now(UTC)
    paused.runtime.queue.enqueue(
        [ChangeEvent(f"change:{c}", RecordRef("hubspot", "contact", c), occurred_at=now) for c in people]
    )
    report = drain(pipeline)
    calls = paused.runtime.clients["hubspot"].stats.calls
    assert sorted(c for c, _ in sandbox.company_writes) == sorted(companies)
    assert report.dead_lettered == 0
    assert calls["fetch_companies"] == 1 and calls["people_of"] == 1 and calls["write_companies"] == 1
    assert calls["fetch"] == 2  # the two leases of contacts; their records serve the roll-up


def test_a_contact_moving_to_another_company_re_scores_both(live: Live) -> None:
    company, people = _buying_group(live)
    other = live.sandbox.create_company({**COMPANY, "name": "Sol AS"})
    assert wait_for(lambda: live.sandbox.company(other).get("leadtherm_company_engaged_people") == "0", 10)
    live.sandbox.associate_company(people[2], other)
    assert wait_for(lambda: live.sandbox.company(other).get("leadtherm_company_engaged_people") == "1", 10)
    assert wait_for(lambda: live.sandbox.company(company).get("leadtherm_company_engaged_people") == "2", 10)


def test_a_backfill_queues_each_company_it_meets_once_and_the_worker_rolls_them_up(paused: Live) -> None:
    sandbox, runtime = paused.sandbox, paused.runtime
    company = sandbox.create_company(COMPANY)
    for person in PEOPLE:
        sandbox.associate_company(sandbox.create_contact(person), company)
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, page_size=2)
    assert sandbox.company_writes == []  # pages of two people each: the company waits for the worker
    assert runtime.queue.stats().depth == 1
    drain(runtime.pipeline)
    assert [c for c, _ in sandbox.company_writes] == [company]
    assert sandbox.company(company)["leadtherm_company_engaged_people"] == "3"
