"""HubSpot's webhooks journal, through the real HTTP client against the sandbox: offsets, echoes, catch-up."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from leadtherm_sandboxes.hubspot import sandbox as hubspot_sandbox
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.hubspot.journal import catchup
from adapters.hubspot.journal.api import SCOPES, JournalApi
from adapters.hubspot.journal.subscriptions import wanted_subscriptions
from integration.ports import RecordRef
from tests.adapters.hubspot.helpers import expected_outputs, repeated_writes, written_outputs
from tests.adapters.hubspot.journal_world import CLIENT_ID, SECRET, TOKEN, JournalWorld, journal_world

WARM = {
    "email": "ops@fjord.example",
    "jobtitle": "Head of Marketing",
    "numemployees": "100-500",
    "hs_analytics_source": "REFERRALS",
    "hs_analytics_num_page_views": "12",
}


@pytest.fixture
def world(sandbox: HubSpotSandbox, tmp_path: Path) -> Iterator[JournalWorld]:
    with journal_world(sandbox, tmp_path) as running:
        running.start_worker()
        yield running


def _scored(world: JournalWorld, contact: str) -> bool:
    return written_outputs(world.sandbox, contact) == expected_outputs(world.sandbox, contact)


def _listening_from_an_offset(world: JournalWorld) -> str:
    """A first contact read and scored, so the intake holds an offset; its id."""
    world.start_intake()
    first = world.sandbox.create_contact(WARM)
    assert wait_until(lambda: _scored(world, first), 10)
    assert wait_until(lambda: world.stored_offset() == world.newest_offset(), 5)
    return first


def test_setup_subscribes_the_journal_to_exactly_the_properties_the_mapping_reads(world: JournalWorld) -> None:
    held = list(world.sandbox.journal.subscriptions.values())
    contacts = next(s for s in held if s["subscriptionType"] == "OBJECT" and s["objectTypeId"] == "0-1")
    mapping = world.runtime.mappings["hubspot"]
    assert set(contacts["properties"]) == set(mapping.read_fields) - mapping.own_fields - {mapping.id_field}
    assert {"CREATE", "DELETE", "MERGE", "RESTORE", "UPDATE"} <= set(contacts["actions"])
    assert any(s["subscriptionType"] == "GDPR_PRIVACY_DELETION" for s in held)
    again = world.runtime.plugins["hubspot"].setup(mapping, world.env)
    assert not any("journal" in line for line in again.created)  # nothing differs: nothing upserted
    assert sum("journal subscription" in line for line in again.unchanged) == len(wanted_subscriptions(mapping, 0))


def test_500_changes_made_while_stopped_are_each_processed_once_after_a_restart(world: JournalWorld) -> None:
    first = _listening_from_an_offset(world)
    world.stop_intake()
    contacts = [world.sandbox.create_contact({**WARM, "email": f"p{n}@fjord.example"}) for n in range(100)]
    for round_ in range(4):
        for contact in contacts:
            world.sandbox.update_contact(contact, {"hs_analytics_num_page_views": str(13 + round_)})
    writes_before = len(world.sandbox.writes)
    intake = world.start_intake()

    def written() -> Counter[str]:
        return Counter(contact for contact, _ in world.sandbox.writes[writes_before:])

    assert wait_until(lambda: intake.stats.received == 500 and world.settled() and len(written()) == 100, 30)
    assert world.stored_offset() == world.newest_offset()
    assert set(written()) == set(contacts) and set(written().values()) == {1}  # each record once
    assert first not in written()
    assert all(_scored(world, c) for c in contacts[::20])  # as the contacts now stand (a sample: it is slow)


def test_its_own_writes_coming_back_through_the_journal_cause_no_second_write(world: JournalWorld) -> None:
    api = JournalApi(CLIENT_ID, SECRET, world.sandbox.portal_id, world.sandbox.base_url)
    # An admin widened the subscription to every property: leadtherm's own writes are journaled too.
    api.upsert_subscription({**wanted_subscriptions(world.runtime.mappings["hubspot"], 0)[0], "properties": []})
    contact = _listening_from_an_offset(world)
    assert wait_until(lambda: world.intake is not None and world.intake.stats.own_writes > 0, 5)
    assert wait_until(world.settled, 5)
    assert [c for c, _ in world.sandbox.writes].count(contact) == 1
    assert repeated_writes(world.sandbox) == []


def test_a_change_to_a_property_leadtherm_does_not_read_causes_no_api_call(world: JournalWorld) -> None:
    api = JournalApi(CLIENT_ID, SECRET, world.sandbox.portal_id, world.sandbox.base_url)
    api.upsert_subscription({**wanted_subscriptions(world.runtime.mappings["hubspot"], 0)[0], "properties": []})
    contact = _listening_from_an_offset(world)
    assert wait_until(world.settled, 5)
    intake = world.intake
    assert intake is not None
    reads = world.sandbox.calls["POST /crm/v3/objects/contacts/batch/read"]
    irrelevant = intake.stats.irrelevant
    entries = intake.stats.entries
    world.sandbox.update_contact(contact, {"firstname": "Astrid"})
    # The entry holding the change was read, and the change dropped as one leadtherm does not read (an entry
    # read meanwhile may be an earlier one: wait for the drop itself, not for any new entry).
    assert wait_until(lambda: intake.stats.irrelevant == irrelevant + 1, 5)
    assert intake.stats.entries > entries
    assert world.sandbox.calls["POST /crm/v3/objects/contacts/batch/read"] == reads
    assert world.runtime.queue.stats().depth == 0


def test_an_expired_offset_is_reported_and_the_contacts_changed_since_are_caught_up(world: JournalWorld) -> None:
    _listening_from_an_offset(world)
    world.stop_intake()
    changed = [world.sandbox.create_contact({**WARM, "email": f"late{n}@fjord.example"}) for n in range(5)]
    world.sandbox.journal.expire()  # three days pass: every entry, the stored offset's too, is gone
    intake = world.start_intake()
    assert wait_until(lambda: intake.stats.catchups == 1, 5)
    assert intake.stats.last_catchup is not None and "expired" in intake.stats.last_catchup
    assert wait_until(lambda: world.settled() and all(_scored(world, c) for c in changed), 15)
    later = world.sandbox.create_contact({**WARM, "email": "after@fjord.example"})  # reading goes on
    assert wait_until(lambda: _scored(world, later), 10)
    assert intake.stats.catchups == 1


def test_the_token_is_renewed_and_429s_are_retried(world: JournalWorld) -> None:
    _listening_from_an_offset(world)
    intake = world.intake
    assert intake is not None
    fetched = intake.api.tokens_fetched
    world.sandbox.journal.expire_tokens()
    world.sandbox.journal.fail_next(429, times=2)
    contact = world.sandbox.create_contact({**WARM, "email": "again@fjord.example"})
    assert wait_until(lambda: _scored(world, contact), 10)
    assert intake.api.tokens_fetched == fetched + 1
    assert intake.health() is None


def test_a_download_url_that_expired_before_use_is_asked_for_again(world: JournalWorld) -> None:
    _listening_from_an_offset(world)
    world.sandbox.journal.expire_next_urls(1)
    contact = world.sandbox.create_contact({**WARM, "email": "slow@fjord.example"})
    assert wait_until(lambda: _scored(world, contact), 10)
    assert world.sandbox.journal.stats.expired_downloads == 1
    assert wait_until(lambda: world.stored_offset() == world.newest_offset(), 5)


def test_the_entry_file_is_downloaded_without_an_authorization_header(world: JournalWorld) -> None:
    _listening_from_an_offset(world)
    stats = world.sandbox.journal.stats
    assert stats.downloads >= 1 and stats.authorized_downloads == 0
    assert set(SCOPES) <= {scope for _, (_, scopes) in world.sandbox.journal.tokens.items() for scope in scopes}


def test_a_merge_forgets_the_merged_contact_and_rescores_the_survivor(world: JournalWorld) -> None:
    survivor = _listening_from_an_offset(world)
    merged = world.sandbox.create_contact({**WARM, "email": "twin@fjord.example"})
    assert wait_until(lambda: _scored(world, merged), 10)
    twin = RecordRef("hubspot", "contact", merged)
    # The pass commits its state after its writes (and its company roll-ups): wait for the commit too.
    assert wait_until(lambda: world.runtime.state.load([twin]), 10)
    world.sandbox.merge_contacts(survivor, merged)
    assert wait_until(lambda: not world.runtime.state.load([twin]), 10)
    assert wait_until(lambda: world.settled() and _scored(world, survivor), 10)


def test_polls_failing_for_longer_than_the_lag_limit_degrade_health_until_they_recover(
    world: JournalWorld,
) -> None:
    world.env["HUBSPOT_JOURNAL_MAX_LAG"] = "1"
    _listening_from_an_offset(world)
    intake = world.intake
    assert intake is not None
    world.sandbox.journal.fail_next(503, times=6)  # two polls' worth of tries
    assert wait_until(lambda: intake.health() is not None, 10)
    assert "failing" in str(intake.health())
    contact = world.sandbox.create_contact({**WARM, "email": "back@fjord.example"})
    assert wait_until(lambda: intake.health() is None and _scored(world, contact), 15)


def test_the_token_is_renewed_before_it_expires_not_after_a_refusal(world: JournalWorld) -> None:
    world.sandbox.journal.token_lifetime = 1.0
    intake = world.start_intake()
    assert wait_until(lambda: intake.api.tokens_fetched >= 3, 10)
    contact = world.sandbox.create_contact({**WARM, "email": "fresh@fjord.example"})
    assert wait_until(lambda: _scored(world, contact), 10)
    assert world.sandbox.journal.stats.refused_tokens == 0


def test_download_urls_that_keep_expiring_back_off_and_degrade_health_rather_than_spin(world: JournalWorld) -> None:
    world.env["HUBSPOT_JOURNAL_MAX_LAG"] = "1"
    _listening_from_an_offset(world)
    intake = world.intake
    assert intake is not None
    world.sandbox.journal.expire_next_urls(10_000)
    reads = world.sandbox.journal.stats.reads
    world.sandbox.create_contact({**WARM, "email": "stale@fjord.example"})
    assert wait_until(lambda: intake.health() is not None, 10)
    assert world.sandbox.journal.stats.reads - reads < 40  # backing off, not asking in a tight loop


def test_the_catch_up_search_reads_past_the_search_result_cap_by_querying_again_from_the_last_date(
    sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catchup, "SEARCH_LIMIT", 250)  # HubSpot's is 10,000: the same path, smaller
    monkeypatch.setattr(hubspot_sandbox, "SEARCH_LIMIT", 250)
    before = int(time.time() * 1000) - 1000
    old = [sandbox.create_contact({"email": f"o{n}@fjord.example"}) for n in range(5)]
    with sandbox.lock:  # modified long ago: not to be found
        for contact in old:
            sandbox.contacts[contact].properties["lastmodifieddate"] = "2020-01-01T00:00:00.000Z"
    recent = [sandbox.create_contact({"email": f"r{n}@fjord.example"}) for n in range(600)]
    found = list(catchup.ModifiedSince(TOKEN, sandbox.base_url).ids(before))
    assert sorted(found) == sorted(recent)  # each once, none of the old ones


def test_the_demo_runs_on_the_journal_and_scores_every_contact(tmp_path: Path) -> None:
    ran = subprocess.run(
        [str(Path(sys.executable).with_name("leadtherm")), "demo", "--crm", "hubspot", "--intake", "journal",
         "--contacts", "12", "--duration", "3"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "SALESFORCE_", "LEADTHERM_"))},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "HubSpot: 12 records" in ran.stdout
    unscored = re.search(r"not yet scored\s*│\s*(\d+)", ran.stdout)
    assert unscored and unscored.group(1) == "0", ran.stdout


def test_a_company_s_own_change_reaches_its_score_through_the_journal(world: JournalWorld) -> None:
    company_mapping = world.runtime.mappings["hubspot"].company
    assert company_mapping is not None
    held = list(world.sandbox.journal.subscriptions.values())
    companies = next(s for s in held if s["subscriptionType"] == "OBJECT" and s["objectTypeId"] == "0-2")
    assert set(companies["properties"]) == company_mapping.trigger_fields - {company_mapping.id_field}
    world.start_intake()
    company = world.sandbox.create_company({"name": "Nordlys AB", "industry": "Software", "numberofemployees": "400"})
    world.sandbox.associate_company(world.sandbox.create_contact(WARM), company)
    assert wait_until(lambda: world.sandbox.company(company).get("leadtherm_company_fit") not in (None, ""), 10)
    fit = int(world.sandbox.company(company)["leadtherm_company_fit"])
    world.sandbox.update_company(company, {"industry": "Mining"})
    assert wait_until(lambda: int(world.sandbox.company(company)["leadtherm_company_fit"]) < fit, 10)
