"""Salesforce account scores end to end: outbound messages -> queue -> SOQL -> Collections, on Contacts and Accounts."""

from __future__ import annotations

import time

import pytest
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox, SoqlError
from leadtherm_sandboxes.waiting import wait_until as wait_for

from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.companies import SalesforceAccounts
from adapters.salesforce.inbound import outbound_endpoint
from integration.ports import RecordRef
from mappings.loader import load_mapping
from tests.adapters.salesforce.conftest import OUTBOUND_SECRET, Served

ACCOUNT = {"Name": "Nordlys AB", "Industry": "Software", "NumberOfEmployees": 400, "BillingCountry": "Sweden"}
PEOPLE = [
    {"LastName": "Berg", "Email": "ceo@nordlys.example", "Title": "Chief Executive Officer"},
    {"LastName": "Dahl", "Email": "ops@nordlys.example", "Title": "Operations Manager"},
    {"LastName": "Ek", "Email": "it@nordlys.example", "Title": "IT Manager"},
]
ENGAGED = {"LeadSource": "Employee Referral", "BANT_Timeline__c": True, "LastActivityDate": time.strftime("%Y-%m-%d")}


def _watch_accounts(sandbox: SalesforceSandbox, served: Served) -> None:
    """The outbound messages of `setup salesforce`, Account's included."""
    endpoint = outbound_endpoint(served.app_url, OUTBOUND_SECRET)
    sandbox.configure_outbound(endpoint, time_scale=0.001, objects=("Lead", "Contact", "Account"))


def _quiet(sandbox: SalesforceSandbox, served: Served) -> None:
    def settled() -> bool:
        return sandbox.flush_outbound(0.01) and served.runtime.queue.stats().depth == 0

    assert wait_for(settled, 10)
    time.sleep(0.3)
    assert wait_for(settled, 10)


def _buying_group(sandbox: SalesforceSandbox, served: Served) -> tuple[str, list[str]]:
    _watch_accounts(sandbox, served)
    served.start_worker()
    account = sandbox.create_record("Account", ACCOUNT)
    people = [sandbox.create_record("Contact", {**p, **ENGAGED, "AccountId": account}) for p in PEOPLE]
    assert wait_for(lambda: sandbox.record("Account", account).get("Account_Engaged_People__c") == 3, 10)
    _quiet(sandbox, served)
    return account, people


def test_an_account_s_buying_group_is_rolled_up_and_a_change_writes_contact_and_account_once(
    sandbox: SalesforceSandbox, served: Served
) -> None:
    account, people = _buying_group(sandbox, served)
    held = sandbox.record("Account", account)
    reasons = held["Account_Score_Reasons__c"]
    assert "3 engaged: " in reasons and "an executive" in reasons and "two managers" in reasons
    assert held["Account_Buying_Group_Roles__c"] == 2
    for person in PEOPLE:
        assert person["LastName"] not in reasons and person["Email"] not in reasons
    before = len(sandbox.writes)
    score = held["Account_Score__c"]
    sandbox.update_record("Contact", people[1], {"BANT_Timeline__c": False})  # the manager's timeline fell through
    assert wait_for(lambda: sandbox.record("Account", account)["Account_Score__c"] != score, 10)
    _quiet(sandbox, served)
    assert sorted(record_id for record_id, _ in sandbox.writes[before:]) == sorted([people[1], account])


def test_an_account_s_own_change_reaches_it_through_its_outbound_message(
    sandbox: SalesforceSandbox, served: Served
) -> None:
    account, _ = _buying_group(sandbox, served)
    fit = sandbox.record("Account", account)["Account_Fit__c"]
    sandbox.update_record("Account", account, {"Industry": "Mining"})
    assert wait_for(lambda: sandbox.record("Account", account)["Account_Fit__c"] < fit, 10)


def test_a_lead_converted_onto_an_account_counts_among_its_people(sandbox: SalesforceSandbox, served: Served) -> None:
    account, _ = _buying_group(sandbox, served)
    lead = sandbox.create_lead({"LastName": "Fors", "Company": "Nordlys AB", "Title": "Head of IT", **ENGAGED})
    contact = sandbox.convert_lead(lead, create_opportunity=False, account_id=account)
    sandbox.update_record("Contact", contact, {"BANT_Timeline__c": True})  # custom fields do not map over by default
    assert wait_for(lambda: sandbox.record("Account", account).get("Account_Engaged_People__c") == 4, 10)
    assert "a director" in sandbox.record("Account", account)["Account_Score_Reasons__c"]


def test_setup_creates_the_account_fields_and_lets_the_integration_user_edit_them(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    mapping = load_mapping("salesforce").company
    assert mapping is not None
    for field in mapping.own_fields:
        assert f"Account.{field}" in sandbox.custom_fields
    granted = {
        g["Field"]
        for g in sandbox.objects["FieldPermissions"].values()
        if g["PermissionsRead"] and g["PermissionsEdit"]
    }
    assert {f"Account.{f}" for f in mapping.own_fields} <= granted
    assert SalesforceAccounts(client, mapping).missing_company_outputs() == []


def test_an_account_s_contacts_come_with_it_in_one_query(sandbox: SalesforceSandbox, client: SalesforceClient) -> None:
    mapping = load_mapping("salesforce").company
    assert mapping is not None
    accounts = SalesforceAccounts(client, mapping)
    staffed, empty = sandbox.create_record("Account", ACCOUNT), sandbox.create_record("Account", {"Name": "Tom AB"})
    people = sorted(sandbox.create_record("Contact", {**p, "AccountId": staffed}) for p in PEOPLE)
    refs = [RecordRef("salesforce", "Account", staffed), RecordRef("salesforce", "Account", empty)]
    accounts.fields()  # describe, once per process
    before = sandbox.calls.copy()
    found = accounts.fetch_companies(refs)
    members = accounts.people_of(sorted(found.records))
    assert sum((sandbox.calls - before).values()) == 1  # the Accounts and their Contacts: one SOQL query
    assert sorted(r.record_id for r in members[refs[0]]) == people
    assert members[refs[1]] == []  # no Contacts: the subquery answers null


def test_a_child_subquery_the_api_does_not_know_is_refused_as_salesforce_refuses_it(sandbox: SalesforceSandbox) -> None:
    with pytest.raises(SoqlError, match="relationship 'Leads'"):
        sandbox.query("SELECT Id, (SELECT Id FROM Leads) FROM Account")


def test_an_account_s_own_change_re_scores_the_contacts_that_read_its_fields(
    sandbox: SalesforceSandbox, served: Served
) -> None:
    account, people = _buying_group(sandbox, served)  # a Software account: its Contacts earn "Target industry"
    fits = {person: sandbox.record("Contact", person)["Lead_Fit__c"] for person in people}
    sandbox.update_record("Account", account, {"Industry": "Mining"})
    assert wait_for(lambda: all(sandbox.record("Contact", p)["Lead_Fit__c"] < fits[p] for p in people), 10)
    _quiet(sandbox, served)
    before = len(sandbox.writes)
    sandbox.update_record("Account", account, {"Type": "Customer - Direct"})  # a field nobody reads
    _quiet(sandbox, served)
    assert sandbox.writes[before:] == []  # the Contacts were not re-scored for it
