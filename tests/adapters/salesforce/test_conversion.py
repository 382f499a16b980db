"""A converted Lead's Contact keeps the conversion, and following Leads costs no extra query."""

from __future__ import annotations

from datetime import UTC, datetime

from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.client import READ_CHUNK, SalesforceClient
from adapters.salesforce.field_setup import setup
from adapters.salesforce.plugin import connect
from integration.domain.model import Stage
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess
from integration.ports import RawRecord, RecordRef
from mappings.loader import load_mapping, load_rules
from mappings.schema import AttributeMapping
from tests.adapters.salesforce.conftest import password_env

NOW = datetime(2026, 11, 1, tzinfo=UTC)
RULES = load_rules()
NORMALIZER = Normalizer(load_mapping("salesforce"))
BANT = {"BANT_Need__c": True, "BANT_Budget__c": True, "BANT_Authority__c": True, "BANT_Timeline__c": True}


def _qualified_lead(sandbox: SalesforceSandbox, n: int = 0) -> str:
    return sandbox.create_lead(
        {"Email": f"cto{n}@nordlys.example", "Title": "CTO", "Company": "Nordlys", "LeadSource": "Web", **BANT}
    )


def _convert(sandbox: SalesforceSandbox, lead: str, create_opportunity: bool = True) -> str:
    contact = sandbox.convert_lead(lead, create_opportunity=create_opportunity)
    # The admin's Lead Field Mapping carries the BANT answers onto the Contact's own fields.
    sandbox.update_record("Contact", contact, BANT)
    return contact


def _stage(record: dict[str, object], object_type: str = "Contact") -> Stage:
    return assess(NORMALIZER.lead(record, object_type), RULES, NOW).stage


def _queries(sandbox: SalesforceSandbox) -> int:
    return sum(n for rule, n in sandbox.calls.items() if rule.rstrip("/").endswith("/query"))


def _followed(client: SalesforceClient, lead: str) -> dict[str, object]:
    [record] = client.fetch([RecordRef("salesforce", "Lead", lead)]).records.values()
    return dict(record)


def test_a_qualified_lead_is_sql_and_its_contact_after_conversion_is_an_opportunity(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lead = _qualified_lead(sandbox)
    assert _stage(_followed(client, lead), "Lead") is Stage.SQL
    contact = _convert(sandbox, lead)
    followed = _followed(client, lead)
    assert followed["Id"] == contact
    assert _stage(followed) is Stage.OPPORTUNITY


def test_the_contact_of_a_lead_whose_opportunity_was_won_is_a_customer(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lead = _qualified_lead(sandbox)
    _convert(sandbox, lead)
    sandbox.close_opportunity(str(sandbox.record("Lead", lead)["ConvertedOpportunityId"]), won=True)
    assert _stage(_followed(client, lead)) is Stage.CUSTOMER


def test_a_lost_opportunity_or_none_at_all_leaves_the_contact_an_opportunity(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lost, without = _qualified_lead(sandbox, 1), _qualified_lead(sandbox, 2)
    _convert(sandbox, lost)
    sandbox.close_opportunity(str(sandbox.record("Lead", lost)["ConvertedOpportunityId"]), won=False)
    _convert(sandbox, without, create_opportunity=False)
    assert _stage(_followed(client, lost)) is Stage.OPPORTUNITY
    assert _stage(_followed(client, without)) is Stage.OPPORTUNITY


def test_a_contact_read_by_its_own_id_or_page_has_the_same_stage_as_through_its_lead(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    won, open_ = _qualified_lead(sandbox, 1), _qualified_lead(sandbox, 2)
    won_contact, open_contact = _convert(sandbox, won), _convert(sandbox, open_)
    plain = sandbox.create_record("Contact", {"Email": "cfo@nordlys.example", "Title": "CFO", **BANT})
    sandbox.close_opportunity(str(sandbox.record("Lead", won)["ConvertedOpportunityId"]), won=True)
    refs = [RecordRef("salesforce", "Contact", c) for c in (won_contact, open_contact, plain)]
    by_id = client.fetch(refs).records
    paged = dict(client.page("Contact", None, 10).records)
    expected = [Stage.CUSTOMER, Stage.OPPORTUNITY, Stage.SQL]  # a Contact no Lead became: its own answers
    assert [_stage(dict(by_id[r])) for r in refs] == expected
    assert [_stage(dict(paged[r])) for r in refs] == expected


def test_following_converted_leads_to_their_contacts_costs_no_query_beyond_the_leads_own(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    leads = [_qualified_lead(sandbox, n) for n in range(250)]
    contacts = {_convert(sandbox, lead) for lead in leads[::2]}  # 125 converted, across both chunks
    refs = [RecordRef("salesforce", "Lead", lead) for lead in leads]
    before = _queries(sandbox)
    seen: dict[RecordRef, RawRecord] = {}
    for start in range(0, len(refs), READ_CHUNK):  # as the pipeline reads a batch: 200 ids a call
        seen.update(client.fetch(refs[start : start + READ_CHUNK]).records)
    assert _queries(sandbox) - before == 2  # one per 200 Leads, the Contacts folded in
    assert {r.record_id for r in seen if r.object_type == "Contact"} == contacts
    assert all(_stage(dict(record)) is Stage.OPPORTUNITY for r, record in seen.items() if r.object_type == "Contact")


def test_a_changed_opportunity_leads_to_the_contacts_converted_with_it_one_query_per_200(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    leads = [_qualified_lead(sandbox, n) for n in range(210)]
    contacts = {lead: _convert(sandbox, lead) for lead in leads[:205]}
    opportunity_of = {lead: str(sandbox.record("Lead", lead)["ConvertedOpportunityId"]) for lead in contacts}
    lone = sandbox.create_record("Opportunity", {"Name": "Direct", "StageName": "Prospecting"})
    refs = [RecordRef("salesforce", "Opportunity", o) for o in opportunity_of.values()]
    refs[0] = RecordRef("salesforce", "Opportunity", refs[0].record_id[:15])  # as an admin pastes an id
    before = _queries(sandbox)
    links = client.related([*refs, RecordRef("salesforce", "Opportunity", lone)])
    assert _queries(sandbox) - before == 2  # 206 Opportunities: two Lead queries
    assert links[RecordRef("salesforce", "Opportunity", lone)] == []  # no Lead was converted into it
    for ref, lead in zip(refs, contacts, strict=True):
        assert links[ref] == [RecordRef("salesforce", "Contact", contacts[lead])]


def test_a_bulk_listing_of_contacts_keeps_their_conversion(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    leads = [_qualified_lead(sandbox, n) for n in range(30)]
    contacts = [_convert(sandbox, lead) for lead in leads]
    sandbox.close_opportunity(str(sandbox.record("Lead", leads[0])["ConvertedOpportunityId"]), won=True)
    client.bulk_threshold, client.bulk_poll, client.bulk_page = 20, 0.01, 50
    page = client.page("Contact", None, 50)
    assert page.next_cursor is None and len(page.records) == 30
    stages = {ref.record_id: _stage(dict(record)) for ref, record in page.records}
    assert stages[contacts[0]] is Stage.CUSTOMER
    assert {stages[c] for c in contacts[1:]} == {Stage.OPPORTUNITY}


def test_setup_knows_a_parent_field_read_through_a_relationship_and_watches_no_such_field(
    sandbox: SalesforceSandbox,
) -> None:
    mapping = load_mapping("salesforce")
    assert "ConvertedOpportunity.IsWon" in mapping.read_fields
    sf = connect(password_env(sandbox))
    report = setup(sf, mapping, SalesforceClient(mapping, sf).user_id)
    assert report.missing == []
    assert "ConvertedOpportunity" not in "\n".join(report.instructions)  # no flow on a Lead sees it change
    typo = mapping.model_copy(
        update={
            "attributes": {**mapping.attributes, "has_won_deal": AttributeMapping(field="ConvertedOportunity.IsWon")}
        }
    )
    assert setup(sf, typo, SalesforceClient(typo, sf).user_id).missing == [
        "field ConvertedOportunity.IsWon on none of Lead, Contact"
    ]
