"""Named scores end to end in both CRM sandboxes: one change -> the default score and the named scores whose
segment holds, written in one write, each field once; the echo of that write changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox
from leadtherm_sandboxes.waiting import wait_until as wait_for

from adapters.salesforce.inbound import outbound_endpoint
from integration.composition.runtime import Runtime
from integration.service.worker import drain
from tests.adapters.salesforce.conftest import OUTBOUND_SECRET
from tests.scores_end_to_end import SECRET, hubspot_served, salesforce_served

SOFTWARE_CTO = {
    "email": "cto@nordlys.example",
    "jobtitle": "Chief Technology Officer",
    "numemployees": "100-500",
    "industry": "Software",
    "country": "Sweden",
    "hs_analytics_source": "REFERRALS",
    "num_conversion_events": "2",
}
SOFTWARE_CTO_LEAD = {
    "Email": "cto@nordlys.example", "Title": "Chief Technology Officer", "NumberOfEmployees": 300,
    "Industry": "Software", "Country": "Sweden", "LeadSource": "Employee Referral",
    "Status": "Working - Contacted", "LastActivityDate": time.strftime("%Y-%m-%d"),
}  # fmt: skip


def _fields_written(writes: list[tuple[str, dict[str, Any]]], record: str) -> list[str]:
    return [name for written, values in writes if written == record for name in values]


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[tuple[HubSpotSandbox, Runtime, str]]:
    with hubspot_served(tmp_path) as served:
        yield served


def test_hubspot_one_change_writes_the_default_and_the_analytics_score_once_each(
    hubspot: tuple[HubSpotSandbox, Runtime, str],
) -> None:
    portal, runtime, url = hubspot
    runtime.pipeline.check_outputs()  # setup created the named scores' properties
    contact = portal.create_contact(SOFTWARE_CTO)
    portal.configure_webhooks(f"{url}/webhooks/hubspot", SECRET, time_scale=0.0005, batch_window=0.02)
    portal.update_contact(contact, {"hs_analytics_num_page_views": "12"})
    assert portal.flush_webhooks(5) and wait_for(lambda: runtime.queue.stats().depth >= 1, 5)
    report = drain(runtime.pipeline)
    assert report.written == 1
    assert portal.flush_webhooks(5)
    drain(runtime.pipeline)  # the echo of our own write
    written = _fields_written(portal.writes, contact)
    assert len(written) == len(set(written)), "a field written twice"
    assert "leadtherm_score" in written and "leadtherm_analytics_score" in written
    assert not [f for f in written if f.startswith("leadtherm_stores_")]
    assert [c for c, _ in portal.writes] == [contact]  # one write for both scores
    held = portal.contact(contact)
    assert held["leadtherm_analytics_temperature"] in ("cold", "cool", "warm", "hot")
    assert runtime.clients["hubspot"].stats.calls["fetch"] == 1  # no extra read per score


@pytest.fixture
def salesforce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SalesforceSandbox, Runtime]]:
    with salesforce_served(tmp_path, monkeypatch) as (org, runtime, url):
        org.configure_outbound(
            outbound_endpoint(url, OUTBOUND_SECRET), fields=("Id", "LastModifiedById"), time_scale=0.001
        )
        yield org, runtime


def test_salesforce_one_change_writes_the_default_and_the_analytics_score_once_each(
    salesforce: tuple[SalesforceSandbox, Runtime],
) -> None:
    org, runtime = salesforce
    runtime.pipeline.check_outputs()  # setup created the named scores' fields, with permissions
    lead = org.create_lead(SOFTWARE_CTO_LEAD)
    assert org.flush_outbound(5) and wait_for(lambda: runtime.queue.stats().depth >= 1, 5)
    report = drain(runtime.pipeline)
    assert report.written == 1
    assert org.flush_outbound(5)
    drain(runtime.pipeline)  # the echo of our own write
    written = _fields_written(org.writes, lead)
    assert len(written) == len(set(written)), "a field written twice"
    assert "Lead_Score__c" in written and "Lead_Analytics_Score__c" in written
    assert not [f for f in written if f.startswith("Lead_Stores_")]
    assert [r for r, _ in org.writes] == [lead]
    assert org.record("Lead", lead)["Lead_Analytics_Temperature__c"] in ("cold", "cool", "warm", "hot")
