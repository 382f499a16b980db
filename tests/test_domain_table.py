"""DOMAIN.md's temperature table as specification: each row's people, as each CRM records them.

Every case is a HubSpot contact and a Salesforce Lead for the same person, through the packaged
mappings and the default rules. Where a CRM cannot hold a signal (Salesforce's standard Lead
fields carry no web or e-mail behaviour; HubSpot has no rep rating), the record carries what
that CRM's users would record instead: in Salesforce the rep logs the activity and rates the lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integration.domain.model import Stage, Temperature
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess
from mappings.loader import load_mapping, load_rules

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RULES = load_rules()
HUBSPOT = Normalizer(load_mapping("hubspot"))
SALESFORCE = Normalizer(load_mapping("salesforce"))


def _ms(days_ago: float) -> str:
    return str(int((NOW - timedelta(days=days_ago)).timestamp() * 1000))


def _day(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Case:
    who: str
    temperature: Temperature
    hubspot: dict[str, Any]
    salesforce: dict[str, Any]
    stage: Stage | None = None


BANT_HS = {"leadtherm_need": "true", "leadtherm_budget": "true", "leadtherm_authority": "true",
           "leadtherm_timeline": "true"}  # fmt: skip
BANT_SF = {"BANT_Need__c": True, "BANT_Budget__c": True, "BANT_Authority__c": True, "BANT_Timeline__c": True}

CASES = [
    # cold: no shown interest; outbound origin; unresponsive or annoyed; need not identified
    Case(
        "a contact from a purchased list who never engaged",
        Temperature.COLD,
        {"hs_object_id": "101", "email": "p.sales@vista-retail.example", "jobtitle": "Sales Representative",
         "numemployees": "5-25", "industry": "Retail", "country": "Brazil", "hs_analytics_source": "OFFLINE"},
        {"Id": "00Q000000000101", "Email": "p.sales@vista-retail.example", "Title": "Sales Representative",
         "NumberOfEmployees": 18, "Industry": "Retail", "Country": "Brazil", "LeadSource": "Purchased List",
         "Status": "Open - Not Contacted", "BANT_Need__c": False, "BANT_Budget__c": False,
         "BANT_Authority__c": False, "BANT_Timeline__c": False},
        Stage.LEAD,
    ),
    Case(
        "a cold-called analyst who unsubscribed",
        Temperature.COLD,
        {"hs_object_id": "102", "email": "o.ek@baltic-foods.example", "jobtitle": "Analyst", "numemployees": "25-50",
         "hs_analytics_source": "OFFLINE", "hs_email_optout": "true", "hs_email_open": "1",
         "hs_email_last_open_date": _ms(60)},
        {"Id": "00Q000000000102", "Email": "o.ek@baltic-foods.example", "Title": "Analyst", "NumberOfEmployees": 40,
         "LeadSource": "Cold Call", "HasOptedOutOfEmail": True, "Status": "Open - Not Contacted",
         "LastActivityDate": _day(60), "BANT_Need__c": False},
    ),
    # cool: casual contact, one channel, little known beyond an e-mail -- or warm, then silent
    Case(
        "a newsletter reader who opens a few e-mails and visited once",
        Temperature.COOL,
        {"hs_object_id": "103", "email": "m.lind@helix.example", "jobtitle": "Marketing Specialist",
         "numemployees": "50-100", "industry": "Software", "country": "Sweden", "hs_analytics_source": "ORGANIC_SEARCH",
         "hs_email_open": "6", "hs_email_click": "1", "hs_analytics_num_visits": "2",
         "hs_analytics_num_page_views": "5", "hs_email_last_open_date": _ms(9)},
        {"Id": "00Q000000000103", "Email": "m.lind@helix.example", "Title": "Marketing Specialist",
         "NumberOfEmployees": 80, "Industry": "Software", "Country": "Sweden", "LeadSource": "Web",
         "Status": "Open - Not Contacted", "LastActivityDate": _day(9)},
    ),
    Case(
        "a webinar attendee who engaged regularly, then went silent for four months",
        Temperature.COOL,
        {"hs_object_id": "104", "email": "h.wolf@orbit.example", "jobtitle": "Head of Marketing",
         "numemployees": "100-500", "industry": "Financial Services", "country": "Germany",
         "hs_analytics_source": "OTHER_CAMPAIGNS", "num_conversion_events": "3", "hs_analytics_num_page_views": "35",
         "hs_analytics_num_visits": "7", "hs_email_open": "10", "hs_email_click": "4",
         "hs_analytics_last_visit_timestamp": _ms(125), "hs_lead_status": "IN_PROGRESS"},
        {"Id": "00Q000000000104", "Email": "h.wolf@orbit.example", "Title": "Head of Marketing",
         "NumberOfEmployees": 300, "Industry": "Financial Services", "Country": "Germany", "LeadSource": "Webinar",
         "Status": "Working - Contacted", "Rating": "Warm", "LastActivityDate": _day(125)},
    ),
    # warm: showed interest (forms, subscribed, referral, engages regularly); need not confirmed
    Case(
        "a marketing manager who engages regularly and filled forms, no answers yet (issue #11)",
        Temperature.WARM,
        {"hs_object_id": "105", "email": "k.holm@nordlys.example", "jobtitle": "Marketing Manager",
         "numemployees": "25-50", "hs_analytics_source": "ORGANIC_SEARCH", "hs_analytics_num_page_views": "60",
         "hs_analytics_num_visits": "15", "num_conversion_events": "4", "hs_email_open": "14", "hs_email_click": "8",
         "hs_analytics_last_visit_timestamp": _ms(2)},
        {"Id": "00Q000000000105", "Email": "k.holm@nordlys.example", "Title": "Marketing Manager",
         "NumberOfEmployees": 37, "LeadSource": "Web", "Status": "Working - Contacted", "Rating": "Warm",
         "LastActivityDate": _day(2)},
        Stage.MQL,
    ),
    Case(
        "a referral from a happy customer who looked around the site",
        Temperature.WARM,
        {"hs_object_id": "106", "email": "d.nowak@krakow-robotics.example", "jobtitle": "Director of Operations",
         "numemployees": "50-100", "industry": "Software", "country": "Poland", "hs_analytics_source": "REFERRALS",
         "hs_analytics_num_page_views": "12", "hs_analytics_num_visits": "3", "hs_email_open": "3",
         "hs_analytics_last_visit_timestamp": _ms(5)},
        {"Id": "00Q000000000106", "Email": "d.nowak@krakow-robotics.example", "Title": "Director of Operations",
         "NumberOfEmployees": 80, "Industry": "Software", "Country": "Poland", "LeadSource": "Customer Referral",
         "Status": "Working - Contacted", "LastActivityDate": _day(5)},
    ),
    Case(
        "a busy evaluator with every kind of engagement but nothing confirmed: warm, never hot",
        Temperature.WARM,
        {"hs_object_id": "107", "email": "c.meyer@quanta.example", "jobtitle": "CEO", "numemployees": "500-1000",
         "industry": "Banking", "country": "Germany", "hs_analytics_source": "REFERRALS",
         "hs_analytics_num_page_views": "150", "hs_analytics_num_visits": "30", "num_conversion_events": "6",
         "hs_email_open": "40", "hs_email_click": "15", "hs_email_replied": "3",
         "hs_analytics_last_visit_timestamp": _ms(1), "hs_lead_status": "CONNECTED"},
        {"Id": "00Q000000000107", "Email": "c.meyer@quanta.example", "Title": "CEO", "NumberOfEmployees": 800,
         "Industry": "Banking", "Country": "Germany", "LeadSource": "Customer Referral",
         "Status": "Working - Contacted", "Rating": "Hot", "LastActivityDate": _day(1)},
    ),
    # hot: need, fit, budget, authority and timeline present; actively looking
    Case(
        "a founder who asked for a demo, with need, budget, authority and timeline confirmed",
        Temperature.HOT,
        {"hs_object_id": "108", "email": "f.dahl@fjord.example", "jobtitle": "Founder", "numemployees": "100-500",
         "industry": "Software", "country": "Sweden", "hs_analytics_source": "PAID_SEARCH",
         "num_conversion_events": "2", "hs_analytics_num_page_views": "30", "hs_analytics_num_visits": "6",
         "hs_email_open": "8", "hs_email_click": "3", "hs_email_replied": "1",
         "hs_analytics_last_visit_timestamp": _ms(1), "hs_lead_status": "IN_PROGRESS", **BANT_HS},
        {"Id": "00Q000000000108", "Email": "f.dahl@fjord.example", "Title": "Founder", "NumberOfEmployees": 300,
         "Industry": "Software", "Country": "Sweden", "LeadSource": "Demo Request", "Status": "Working - Contacted",
         "Rating": "Hot", "LastActivityDate": _day(1), **BANT_SF},
        Stage.SQL,
    ),
    Case(
        "a referred director, qualified on a call, engaging this week",
        Temperature.HOT,
        {"hs_object_id": "109", "email": "g.berg@alpen.example", "jobtitle": "VP Sales", "numemployees": "1000+",
         "industry": "Telecommunications", "country": "Austria", "hs_analytics_source": "REFERRALS",
         "hs_analytics_num_page_views": "20", "hs_analytics_num_visits": "5", "hs_email_open": "6",
         "hs_email_click": "2", "hs_analytics_last_visit_timestamp": _ms(3), "hs_lead_status": "CONNECTED",
         **BANT_HS},
        {"Id": "00Q000000000109", "Email": "g.berg@alpen.example", "Title": "VP Sales", "NumberOfEmployees": 2000,
         "Industry": "Telecommunications", "Country": "Austria", "LeadSource": "Partner Referral",
         "Status": "Working - Contacted", "Rating": "Warm", "LastActivityDate": _day(3), **BANT_SF},
        Stage.SQL,
    ),
]  # fmt: skip


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
@pytest.mark.parametrize("case", CASES, ids=[c.who for c in CASES])
def test_domain_table_temperature_through_each_crms_mapping(case: Case, crm: str) -> None:
    lead = HUBSPOT.lead(case.hubspot) if crm == "hubspot" else SALESFORCE.lead(case.salesforce, "Lead")
    result = assess(lead, RULES, NOW)
    reasons = "; ".join(str(r) for r in result.reasons)
    assert result.temperature is case.temperature, f"{case.who} in {crm}: score {result.score} ({reasons})"
    if case.stage is not None:
        assert result.stage is case.stage
    assert result.next_action == getattr(RULES.next_actions, case.temperature.value)


def test_the_domain_table_has_at_least_two_people_per_temperature() -> None:
    for temperature in Temperature:
        assert sum(1 for c in CASES if c.temperature is temperature) >= 2, temperature


def test_an_unticked_salesforce_checkbox_is_not_confirmed_yet_never_ruled_out() -> None:
    unticked = SALESFORCE.lead({"Id": "00Q000000000201", "Email": "a@b.example", "BANT_Need__c": False}, "Lead")
    ticked = SALESFORCE.lead({"Id": "00Q000000000202", "Email": "a@b.example", "BANT_Need__c": True}, "Lead")
    assert unticked.need is None and ticked.need is True
    labels = {r.label for r in assess(unticked, RULES, NOW).reasons}
    assert "No need for what we sell" not in labels
