"""A record page links to the record in its CRM, by the URL pattern its plugin knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sqlite import SqliteStateStore, SqliteWorkQueue
from harness.packaged_copy import copy_packaged
from integration.composition.plugins import load_crm
from integration.files.rules_folder import FolderRulesStore
from integration.ports import RecordRef
from tests.contracts.backend_contract import stored
from tests.webhooks.console.conftest import SECRET, log_in_at, serve_app
from webhooks.console import ConsoleConfig, create_console_app

HUBSPOT = RecordRef("hubspot", "contact", "1051")
SALESFORCE = RecordRef("salesforce", "Lead", "00Q5g0000000000AAA")


def test_hubspot_links_a_contact_in_the_account_its_portal_id_names() -> None:
    url = load_crm("hubspot").record_url(HUBSPOT, {"HUBSPOT_PORTAL_ID": "62515"})
    assert url == "https://app.hubspot.com/contacts/62515/record/0-1/1051"


def test_salesforce_links_a_record_in_lightning_on_the_configured_instance() -> None:
    url = load_crm("salesforce").record_url(SALESFORCE, {"SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com/"})
    assert url == "https://acme.my.salesforce.com/lightning/r/Lead/00Q5g0000000000AAA/view"


@pytest.mark.parametrize(
    ("ref", "env"),
    [
        (HUBSPOT, {}),  # no portal id: the account is unknown
        (HUBSPOT, {"HUBSPOT_PORTAL_ID": "62515/../x"}),
        (RecordRef("hubspot", "deal", "7"), {"HUBSPOT_PORTAL_ID": "62515"}),
        (SALESFORCE, {"SALESFORCE_USERNAME": "leadtherm@acme.example"}),  # only a login would find the instance
        (SALESFORCE, {"SALESFORCE_INSTANCE_URL": "http://acme.my.salesforce.com"}),
        (RecordRef("salesforce", "Lead", "00Q/../x"), {"SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com"}),
    ],
)
def test_no_link_when_the_settings_cannot_say_where_the_record_is(ref: RecordRef, env: dict[str, str]) -> None:
    assert load_crm(ref.crm).record_url(ref, env) is None


def test_the_record_page_links_to_the_record_in_hubspot(tmp_path: Path) -> None:
    state = SqliteStateStore(tmp_path / "db.sqlite")
    state.save(HUBSPOT, stored("hot"))
    config = ConsoleConfig(
        secret=SECRET,
        store=FolderRulesStore(copy_packaged(tmp_path / "mappings")),
        queue=SqliteWorkQueue(tmp_path / "db.sqlite"),
        state=state,
        env={"HUBSPOT_PORTAL_ID": "62515"},
    )
    for url in serve_app(create_console_app(config)):
        http, _ = log_in_at(url)
        page = http.get(f"{url}/admin/records/hubspot/contact/1051", timeout=10).text
        assert 'href="https://app.hubspot.com/contacts/62515/record/0-1/1051"' in page
        assert http.get(f"{url}/admin/records/hubspot/contact/9999", timeout=10).status_code == 404
