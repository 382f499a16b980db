"""Company / account scores with named scores in force, end to end in both CRM sandboxes.

A change to one contact re-scores its contact score, the named scores whose segment holds for it and
its company's score: the contact is written once (every score's fields in one write) and its company
once, no field twice, no other record written; the echoes of those writes change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.inbound import outbound_endpoint
from integration.composition.runtime import Runtime
from integration.service.pipeline import BatchReport
from integration.service.worker import drain
from tests.adapters.salesforce.conftest import OUTBOUND_SECRET
from tests.scores_end_to_end import SECRET, hubspot_served, salesforce_served

TODAY = time.strftime("%Y-%m-%d")
# A named score on seniority: it holds for the executive below and not for the managers.
LEADERS = """\
version: 1
segment:
  - attribute: seniority
    in: [executive, director]
fit:
  - label: Decision-maker title
    attribute: seniority
    in: [executive]
    points: 30
  - label: Timeline confirmed
    attribute: timeline
    is: true
    points: 30
engagement:
  - label: Recent activity recorded
    attribute: last_engagement_at
    present: true
    points: 40
next_actions: {cold: Nurture, cool: Invite to a briefing, warm: Call, hot: Book the meeting}
"""
COMPANY = {"name": "Nordlys AB", "industry": "Software", "numberofemployees": "400", "country": "Sweden"}
CONTACT = {"industry": "Software", "country": "Sweden", "numemployees": "100-500", "hs_analytics_source": "REFERRALS",
           "hs_analytics_num_page_views": "4", "hs_analytics_num_visits": "2"}  # fmt: skip
TITLES = ["Chief Executive Officer", "Operations Manager", "IT Manager"]
ACCOUNT = {"Name": "Nordlys AB", "Industry": "Software", "NumberOfEmployees": 400, "BillingCountry": "Sweden"}


def _settle(flush: Callable[[], bool], runtime: Runtime) -> BatchReport:
    """Deliver and drain until a round brings nothing: our writes' echoes went round the loop too."""
    total = BatchReport()
    for _ in range(6):
        assert flush()
        report = drain(runtime.pipeline)
        total.written += report.written
        if report.events == 0:
            return total
    raise AssertionError("the sandbox kept delivering changes")


def _written(writes: list[tuple[str, dict[str, Any]]]) -> dict[str, list[list[str]]]:
    """Record id -> the field names of each write to it."""
    found: dict[str, list[list[str]]] = {}
    for record, values in writes:
        found.setdefault(record, []).append(list(values))
    return found


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[tuple[HubSpotSandbox, Runtime]]:
    with hubspot_served(tmp_path) as (portal, runtime, url):
        portal.configure_webhooks(f"{url}/webhooks/hubspot", SECRET, time_scale=0.0005, batch_window=0.02)
        yield portal, runtime


def test_hubspot_one_contact_change_writes_its_scores_and_its_company_once_each(
    hubspot: tuple[HubSpotSandbox, Runtime],
) -> None:
    portal, runtime = hubspot
    assert runtime.pipeline.companies is not None and [s.name for s in runtime.pipeline.scores] == [
        "analytics",
        "stores",
    ]
    company = portal.create_company(COMPANY)
    people = [
        portal.create_contact({**CONTACT, "email": f"{n}@x.example", "jobtitle": title})
        for n, title in enumerate(TITLES)
    ]
    for contact in people:
        portal.associate_company(contact, company)
    _settle(lambda: portal.flush_webhooks(5), runtime)
    assert portal.company(company)["leadtherm_company_engaged_people"] is not None
    contacts_before, companies_before = len(portal.writes), len(portal.company_writes)

    portal.update_contact(people[0], {"hs_analytics_num_page_views": "90", "hs_email_click": "12",
                                      "num_conversion_events": "3"})  # fmt: skip
    _settle(lambda: portal.flush_webhooks(5), runtime)

    contacts = _written(portal.writes[contacts_before:])
    companies = _written(portal.company_writes[companies_before:])
    assert list(contacts) == [people[0]] and len(contacts[people[0]]) == 1, "the contact, in one write"
    fields = contacts[people[0]][0]
    assert "leadtherm_score" in fields and "leadtherm_analytics_score" in fields  # the default and analytics
    assert not [f for f in fields if f.startswith("leadtherm_stores_")]  # Software is not in Stores' segment
    assert list(companies) == [company] and len(companies[company]) == 1, "its company, in one write"
    assert "leadtherm_company_engagement" in companies[company][0]


@pytest.fixture
def salesforce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SalesforceSandbox, Runtime]]:
    with salesforce_served(tmp_path, monkeypatch, {"scoring.leaders.yaml": LEADERS}) as (org, runtime, url):
        org.configure_outbound(
            outbound_endpoint(url, OUTBOUND_SECRET), time_scale=0.001, objects=("Lead", "Contact", "Account")
        )
        yield org, runtime


def test_salesforce_one_contact_change_writes_its_scores_and_its_account_once_each(
    salesforce: tuple[SalesforceSandbox, Runtime],
) -> None:
    org, runtime = salesforce
    assert runtime.pipeline.companies is not None and len(runtime.pipeline.scores) == 3
    account = org.create_record("Account", ACCOUNT)
    people = [
        org.create_record(
            "Contact",
            {
                "LastName": f"P{n}",
                "Email": f"p{n}@nordlys.example",
                "Title": title,
                "LeadSource": "Employee Referral",
                "LastActivityDate": TODAY,
                "AccountId": account,
            },
        )
        for n, title in enumerate(TITLES)
    ]
    _settle(lambda: org.flush_outbound(5), runtime)
    assert org.record("Account", account)["Account_Engaged_People__c"] is not None
    before = len(org.writes)

    org.update_record("Contact", people[0], {"BANT_Timeline__c": True})  # the executive confirms a timeline
    _settle(lambda: org.flush_outbound(5), runtime)

    written = _written(org.writes[before:])
    assert sorted(written) == sorted([people[0], account])
    assert len(written[people[0]]) == 1, "the Contact, in one write"
    fields = written[people[0]][0]
    assert "Lead_Score__c" in fields and "Lead_Leaders_Score__c" in fields  # the default and Leaders
    assert not [f for f in fields if f.startswith(("Lead_Analytics_", "Lead_Stores_"))]  # no Industry on Contact
    assert len(written[account]) == 1, "its Account, in one write"
    assert "Account_Score__c" in written[account][0]
