"""The Salesforce CrmClient, through simple-salesforce over HTTPS, passes the shared contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.client import SalesforceClient
from adapters.salesforce.field_setup import setup
from adapters.salesforce.inbound import parse_outbound
from adapters.salesforce.plugin import connect
from integration.errors import AuthError, DailyLimitExhausted, OutputFieldsMissing
from integration.ports import ChangeEvent, FieldWrite, RecordRef, WriteStatus
from mappings.loader import load_mapping
from tests.adapters.salesforce.conftest import password_env
from tests.contracts.crm_client_contract import CrmClientContract


class SalesforceHarness:
    object_type = "Lead"
    writable_field = "Lead_Score__c"

    def __init__(self, sandbox: SalesforceSandbox, client: SalesforceClient) -> None:
        self.sandbox, self.client, self.n = sandbox, client, 0

    def create(self, fields: dict[str, Any]) -> RecordRef:
        self.n += 1
        return RecordRef("salesforce", "Lead", self.sandbox.create_lead({"Email": f"p{self.n}@acme.example", **fields}))

    def delete(self, ref: RecordRef) -> None:
        self.sandbox.delete_record("Lead", ref.record_id)

    def read(self, ref: RecordRef, field: str) -> Any:
        return self.sandbox.record("Lead", ref.record_id).get(field)

    def inject_rate_limit(self, retry_after: float) -> None:
        self.sandbox.fail_next(403, "REQUEST_LIMIT_EXCEEDED")

    def _message(self, ref: RecordRef, by: str) -> ChangeEvent:
        self.sandbox.configure_outbound("http://127.0.0.1:9/unused")
        self.sandbox.outbound_url = None
        notification = {
            "Id": "04l5g0000000001AAA",
            "type": "Lead",
            "values": {"Id": ref.record_id, "LastModifiedById": by},
        }
        [event] = parse_outbound(self.sandbox.outbound_body([notification]), self.sandbox.org_id, ("Lead", "Contact"))
        return event

    def echo_of_own_write(self, ref: RecordRef) -> ChangeEvent:
        self.client.write([FieldWrite(ref, {"Lead_Score__c": 50})])
        return self._message(ref, str(self.sandbox.record("Lead", ref.record_id)["LastModifiedById"]))

    def change_by_person(self, ref: RecordRef) -> ChangeEvent:
        return self._message(ref, "0055g00000PersonAAA")


class TestSalesforceClient(CrmClientContract):
    @pytest.fixture
    def harness(self, sandbox: SalesforceSandbox, client: SalesforceClient) -> SalesforceHarness:
        return SalesforceHarness(sandbox, client)


def test_a_converted_lead_is_followed_to_its_contact(sandbox: SalesforceSandbox, client: SalesforceClient) -> None:
    lead = sandbox.create_lead({"Email": "cto@nordlys.example", "Title": "CTO"})
    contact = sandbox.convert_lead(lead)
    result = client.fetch([RecordRef("salesforce", "Lead", lead)])
    assert result.missing == frozenset({RecordRef("salesforce", "Lead", lead)})
    assert set(result.records) == {RecordRef("salesforce", "Contact", contact)}


def test_writing_a_converted_lead_is_reported_missing_not_failed(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lead = sandbox.create_lead({"Email": "cto@nordlys.example"})
    sandbox.convert_lead(lead)
    [result] = client.write([FieldWrite(RecordRef("salesforce", "Lead", lead), {"Lead_Score__c": 5})])
    assert result.status is WriteStatus.MISSING and "converted" in result.reason


def test_custom_fields_are_invisible_until_setup_grants_them(sandbox: SalesforceSandbox) -> None:
    mapping = load_mapping("salesforce")
    sf = connect(password_env(sandbox))
    sf.toolingexecute(
        "sobjects/CustomField",
        method="POST",
        data={
            "FullName": "Lead.Lead_Score__c",
            "Metadata": {"type": "Number", "label": "x", "precision": 3, "scale": 0},
        },
    )
    assert "Lead_Score__c" not in SalesforceClient(mapping, sf).fields("Lead")
    report = setup(sf, mapping, SalesforceClient(mapping, sf).user_id)
    assert "field Lead.Lead_Score__c" in report.unchanged and "permission set Leadtherm" in report.created
    assert "Lead_Score__c" in SalesforceClient(mapping, sf).fields("Lead")
    assert setup(sf, mapping, SalesforceClient(mapping, sf).user_id).created == []  # idempotent


def test_a_session_token_that_expired_is_an_auth_error_naming_the_settings(sandbox: SalesforceSandbox) -> None:
    token, url = sandbox.issue_session()
    mapping = load_mapping("salesforce")
    client = SalesforceClient(mapping, connect({"SALESFORCE_INSTANCE_URL": url, "SALESFORCE_ACCESS_TOKEN": token}))
    sandbox.expire_sessions()
    with pytest.raises(AuthError, match="SALESFORCE_"):
        client.count("Lead")


def test_a_password_session_that_expired_is_renewed_by_the_sdk(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    lead = sandbox.create_lead({"Email": "p@acme.example"})
    sandbox.expire_sessions()
    assert RecordRef("salesforce", "Lead", lead) in client.fetch([RecordRef("salesforce", "Lead", lead)]).records


def test_a_big_listing_switches_to_bulk_api_2_and_resumes_from_its_cursor(sandbox: SalesforceSandbox) -> None:
    mapping = load_mapping("salesforce")
    sf = connect(password_env(sandbox))
    setup(sf, mapping, SalesforceClient(mapping, sf).user_id)
    leads = {sandbox.create_lead({"Email": f"p{n}@acme.example", "Title": "CEO"}) for n in range(30)}
    client = SalesforceClient(mapping, sf, bulk_threshold=20, bulk_poll=0.01, bulk_page=10)
    first = client.page("Lead", None, 10)
    assert first.next_cursor is not None and first.next_cursor.startswith("bulk:")
    assert client.write_batch_size == 10  # a page's writes go through one ingest job now
    resumed = SalesforceClient(mapping, sf, bulk_threshold=20, bulk_poll=0.01, bulk_page=10)  # e.g. after a crash
    seen = {ref.record_id for ref, _ in first.records}
    cursor = first.next_cursor
    while cursor is not None:
        page = resumed.page("Lead", cursor, 10)
        seen |= {ref.record_id for ref, _ in page.records}
        cursor = page.next_cursor
    assert seen == leads


def test_a_bulk_write_reports_each_record_like_collections_do(
    sandbox: SalesforceSandbox, client: SalesforceClient
) -> None:
    leads = [sandbox.create_lead({"Email": f"p{n}@acme.example"}) for n in range(250)]
    sandbox.convert_lead(leads[3])
    sandbox.delete_record("Lead", leads[7])
    client.bulk_poll = 0.01
    writes = [
        FieldWrite(RecordRef("salesforce", "Lead", lead), {"Lead_Score__c": 61, "Lead_Temperature__c": "warm"})
        for lead in leads
    ]
    results = client.write(writes)  # more than 200: an ingest job
    statuses = [r.status for r in results]
    assert statuses[3] is WriteStatus.MISSING and statuses[7] is WriteStatus.MISSING
    assert statuses.count(WriteStatus.OK) == 248
    assert sandbox.record("Lead", leads[0])["Lead_Temperature__c"] == "warm"
    assert float(sandbox.record("Lead", leads[0])["Lead_Score__c"]) == 61


def test_the_jwt_bearer_flow_signs_in_with_a_connected_apps_key(sandbox: SalesforceSandbox, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "server.key"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    sandbox.register_jwt_client("3MVG9-leadtherm", public.decode())
    env = {"SALESFORCE_USERNAME": sandbox.username, "SALESFORCE_CONSUMER_KEY": "3MVG9-leadtherm",
           "SALESFORCE_PRIVATE_KEY_FILE": str(private), "SALESFORCE_DOMAIN": sandbox.token_domain}  # fmt: skip
    client = SalesforceClient(load_mapping("salesforce"), connect(env))
    sandbox.create_lead({"Email": "p@acme.example"})
    assert client.count("Lead") == 1
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private.write_bytes(
        other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(AuthError):
        connect(env)  # an assertion signed with another key is refused


def test_setup_reports_a_field_of_a_conflicting_type_and_leaves_it(sandbox: SalesforceSandbox) -> None:
    mapping = load_mapping("salesforce")
    sf = connect(password_env(sandbox))
    sf.toolingexecute(
        "sobjects/CustomField", method="POST",
        data={"FullName": "Lead.Lead_Score__c", "Metadata": {"type": "Text", "label": "Score", "length": 10}},
    )  # fmt: skip
    report = setup(sf, mapping, SalesforceClient(mapping, sf).user_id)
    assert any(c.startswith("Lead.Lead_Score__c exists as string") for c in report.conflicts)
    assert sandbox.custom_fields["Lead.Lead_Score__c"]["type"] == "Text"  # not changed
    assert "Contact.Lead_Score__c" not in " ".join(report.conflicts)


def test_before_setup_the_outputs_are_missing_and_a_write_is_a_crm_wide_failure(sandbox: SalesforceSandbox) -> None:
    mapping = load_mapping("salesforce")
    sf = connect(password_env(sandbox))
    bare = SalesforceClient(mapping, sf)
    assert bare.missing_outputs() == sorted(mapping.own_fields)
    lead = RecordRef("salesforce", "Lead", sandbox.create_lead({"Email": "p@acme.example"}))
    with pytest.raises(OutputFieldsMissing, match="run leadtherm setup salesforce"):
        bare.write([FieldWrite(lead, {"Lead_Score__c": 50})])
    setup(sf, mapping, bare.user_id)
    assert SalesforceClient(mapping, sf).missing_outputs() == []


def test_a_spent_daily_allowance_is_a_crm_wide_failure(sandbox: SalesforceSandbox, client: SalesforceClient) -> None:
    sandbox.daily_limit = sandbox.api_usage
    with pytest.raises(DailyLimitExhausted):
        client.count("Lead")
