"""A Contact has no Industry, Country, size, revenue or company name: the default mapping reads its Account's."""

from __future__ import annotations

from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.client import SalesforceClient
from integration.domain.model import Lead
from integration.domain.normalize import Normalizer
from integration.ports import RecordRef


def _read(client: SalesforceClient, object_type: str, record_id: str) -> Lead:
    result = client.fetch([RecordRef("salesforce", object_type, record_id)])
    ((ref, record),) = result.records.items()
    return Normalizer(client.mapping).lead(record, ref.object_type)


def _swedish_software_account(sandbox: SalesforceSandbox) -> str:
    return sandbox.create_record(
        "Account",
        {"Name": "Nordlys AB", "Industry": "Software", "NumberOfEmployees": 240, "AnnualRevenue": 31_000_000,
         "BillingCountry": "Sweden"},
    )  # fmt: skip


def test_a_contact_reads_industry_size_revenue_and_company_from_its_account_and_country_from_mailing_country(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    account = _swedish_software_account(sandbox)
    contact = sandbox.create_record(
        "Contact", {"LastName": "Berg", "Email": "cto@nordlys.example", "Title": "CTO", "AccountId": account,
                    "MailingCountry": "Sweden"}
    )  # fmt: skip
    lead = _read(client, "Contact", contact)
    assert (lead.industry, lead.country, lead.company) == ("software", "sweden", "Nordlys AB")
    assert (lead.company_size, lead.annual_revenue) == (240, 31_000_000)


def test_a_contact_listed_in_a_page_carries_its_accounts_fields(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    account = _swedish_software_account(sandbox)
    sandbox.create_record("Contact", {"LastName": "Berg", "AccountId": account, "MailingCountry": "Sweden"})
    ((ref, record),) = client.page("Contact", None, 10).records
    assert Normalizer(client.mapping).lead(record, ref.object_type).industry == "software"


def test_a_contact_without_an_account_reads_those_attributes_as_empty(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    contact = sandbox.create_record("Contact", {"LastName": "Berg", "Email": "solo@example.com"})
    lead = _read(client, "Contact", contact)
    assert (lead.industry, lead.country, lead.company, lead.company_size) == (None, None, None, None)


def test_a_lead_still_reads_its_own_fields_and_selects_no_account_relationship(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lead_id = sandbox.create_lead(
        {"Email": "cfo@fjord.example", "Company": "Fjord AS", "Industry": "Banking", "Country": "Norway",
         "NumberOfEmployees": 80, "AnnualRevenue": 9_000_000}
    )  # fmt: skip
    lead = _read(client, "Lead", lead_id)
    assert (lead.industry, lead.country, lead.company) == ("banking", "norway", "Fjord AS")
    assert (lead.company_size, lead.annual_revenue) == (80, 9_000_000)
    assert not [f for f in client.fields("Lead") if f.startswith("Account.")]
    assert {"Account.Industry", "Account.Name", "MailingCountry"} <= set(client.fields("Contact"))


def test_a_converted_lead_followed_to_its_contact_reads_the_account_conversion_filled(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lead_id = sandbox.create_lead(
        {"Email": "ceo@nordlys.example", "Company": "Nordlys AB", "Industry": "Software", "Country": "Sweden",
         "NumberOfEmployees": 240}
    )  # fmt: skip
    contact = sandbox.convert_lead(lead_id)
    lead = _read(client, "Lead", lead_id)
    assert lead.record_id == contact
    assert (lead.industry, lead.country, lead.company, lead.company_size) == ("software", "sweden", "Nordlys AB", 240)
    assert _read(client, "Contact", contact).values == lead.values


def test_describe_names_a_contacts_account_relationship_as_salesforce_does(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    described = {f["name"]: f for f in client.sf.Contact.describe()["fields"]}
    assert described["AccountId"]["relationshipName"] == "Account"
    assert described["AccountId"]["referenceTo"] == ["Account"]


def test_a_bulk_listing_of_contacts_carries_their_accounts_fields_as_dotted_columns(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    account = _swedish_software_account(sandbox)
    for n in range(3):
        sandbox.create_record("Contact", {"LastName": f"Berg {n}", "AccountId": account, "MailingCountry": "Sweden"})
    bulk = SalesforceClient(client.mapping, client.sf, bulk_threshold=1, bulk_poll=0.01, bulk_page=10)
    page = bulk.page("Contact", None, 10)
    assert page.next_cursor is None and len(page.records) == 3
    normalizer = Normalizer(client.mapping)
    read = [normalizer.lead(record, ref.object_type) for ref, record in page.records]
    assert {(lead.industry, lead.country, lead.company_size) for lead in read} == {("software", "sweden", 240)}
