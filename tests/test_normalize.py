"""CRM records -> Leads through the packaged mappings, as the CRMs' APIs and exports shape them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.hubspot.flatten import flatten as hubspot_flatten
from adapters.salesforce.flatten import flatten as salesforce_flatten
from integration.domain.model import Stage
from integration.domain.normalize import Normalizer
from integration.errors import MappingError
from mappings.loader import load_mapping

HUBSPOT = Normalizer(load_mapping("hubspot"))
SALESFORCE = Normalizer(load_mapping("salesforce"))


def test_a_hubspot_api_contact_becomes_a_lead() -> None:
    _, flat = hubspot_flatten({
        "id": "51",
        "properties": {
            "email": "Ana.Berg@Acme-Corp.example", "jobtitle": "Chief Revenue Officer", "numemployees": "100-500",
            "industry": "Software", "hs_analytics_source": "REFERRALS", "hs_analytics_num_page_views": "42",
            "leadtherm_need": "true", "leadtherm_budget": "false", "leadtherm_authority": "",
            "hs_analytics_last_visit_timestamp": "1761991200000", "hs_email_last_open_date": "2025-10-01T08:00:00Z",
            "lifecyclestage": "salesqualifiedlead", "hs_email_bounce": "2", "num_associated_deals": "0",
        },
    })  # fmt: skip
    lead = HUBSPOT.lead(flat)
    assert lead.record_id == "51" and lead.object_type == "contact"
    assert lead.email_domain == "acme-corp.example"
    assert lead.seniority == "executive" and lead.company_size == 300
    assert lead.origin == "referral" and lead.industry == "software"
    # An unticked checkbox is "not confirmed yet", never "ruled out" (DESIGN.md).
    assert (lead.need, lead.budget, lead.authority) == (True, None, None)
    assert lead.last_engagement_at == datetime(2025, 11, 1, 10, 0, tzinfo=UTC)  # the later of the two dates
    assert lead.lifecycle is Stage.SQL
    assert lead.bounced is True and lead.has_open_deal is False


def test_a_salesforce_lead_record_becomes_a_lead() -> None:
    object_type, flat = salesforce_flatten({
        "attributes": {"type": "Lead"}, "Id": "00Q5g000001AbCdEAK", "Email": "p@nordlys.example",
        "Title": "Head of Operations", "NumberOfEmployees": 80, "LeadSource": "Purchased List",
        "Status": "Working - Contacted", "Rating": "Warm", "LastActivityDate": "2026-10-20",
        "HasOptedOutOfEmail": True, "EmailBouncedReason": None, "IsConverted": False, "BANT_Timeline__c": True,
    })  # fmt: skip
    lead = SALESFORCE.lead(flat, object_type)
    assert (lead.object_type, lead.record_id) == ("Lead", "00Q5g000001AbCdEAK")
    assert lead.seniority == "director" and lead.company_size == 80
    assert lead.origin == "purchased_list" and lead.lead_status == "working" and lead.rep_rating == "warm"
    assert lead.opted_out is True and lead.bounced is False and lead.timeline is True
    assert lead.last_engagement_at == datetime(2026, 10, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [("hs_analytics_num_page_views", "lots", "expected a number"), ("leadtherm_need", "maybe", "true or false"),
     ("hs_analytics_last_visit_timestamp", "last tuesday", "ISO 8601"), ("email", "not-an-address", "e-mail")],
)  # fmt: skip
def test_an_unreadable_value_names_the_field_and_never_echoes_an_email(field: str, value: str, reason: str) -> None:
    with pytest.raises(MappingError) as caught:
        HUBSPOT.lead({"hs_object_id": "51", field: value})
    assert caught.value.field == field and reason in caught.value.reason
    assert "not-an-address" not in str(caught.value)


def test_a_record_without_an_id_is_refused() -> None:
    with pytest.raises(MappingError, match="missing record id"):
        HUBSPOT.lead({"email": "a@b.example"})


def test_a_remembering_normalizer_reads_each_row_as_a_fresh_one_would() -> None:
    """`remember` (score of a large export) keeps outcomes per raw value: rows read the same, errors still raise."""
    rows = [
        {"hs_object_id": "1", "jobtitle": "Chief Revenue Officer", "hs_analytics_source": "REFERRALS"},
        {"hs_object_id": "2", "jobtitle": "Chief Revenue Officer", "hs_analytics_source": "NEWSPAPER"},
        {"hs_object_id": "3", "hs_analytics_source": "NEWSPAPER", "hs_analytics_num_page_views": ""},
        {"hs_object_id": "4", "jobtitle": "", "hs_analytics_num_page_views": "7", "lifecyclestage": "Customer"},
        {"hs_object_id": "5", "hs_analytics_last_visit_timestamp": "2026-10-20T08:00:00Z"},
    ]
    remembering = Normalizer(load_mapping("hubspot"), remember=True)
    for row in [*rows, *rows]:
        fresh = HUBSPOT.read(row)
        again = remembering.read(row)
        assert again.lead == fresh.lead and again.unmapped == fresh.unmapped
    for _ in range(2):  # a value that failed once fails again: failures are never remembered
        with pytest.raises(MappingError, match="expected a number"):
            remembering.read({"hs_object_id": "6", "hs_analytics_num_page_views": "lots"})


@pytest.mark.parametrize(
    ("written", "read"),
    [("1761991200000", datetime(2025, 11, 1, 10, 0, tzinfo=UTC)),
     (" 1761991200000 ", datetime(2025, 11, 1, 10, 0, tzinfo=UTC)),
     ("2025-11-01T10:00:00Z", datetime(2025, 11, 1, 10, 0, tzinfo=UTC)),
     ("2025-11-01T12:00:00+02:00", datetime(2025, 11, 1, 10, 0, tzinfo=UTC)),
     (" 2025-11-01 ", datetime(2025, 11, 1, tzinfo=UTC)),
     ("", None), ("   ", None)],
)  # fmt: skip
def test_an_export_date_reads_as_epoch_milliseconds_or_iso_8601(written: str, read: datetime | None) -> None:
    lead = HUBSPOT.lead({"hs_object_id": "51", "hs_analytics_last_visit_timestamp": written})
    assert lead.last_engagement_at == read
