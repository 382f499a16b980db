"""CDC through the Pub/Sub API: real grpcio against the sandbox's gRPC endpoint, real SDKs, SQLite backend."""

from __future__ import annotations

import logging

import pytest

from adapters.salesforce.pubsub.subscriber import cursor_name
from adapters.salesforce.sandbox import SalesforceSandbox
from integration.waiting import wait_until
from integration.worker import drain
from tests.adapters.salesforce.cdc_world import HOT_LEAD, LEAD_TOPIC, World, run_in_background, world

__all__ = ["world"]  # the fixture, imported for pytest


def _writes_to(org: SalesforceSandbox, record_id: str) -> int:
    return sum(1 for written, _ in org.writes if written == record_id)


def test_500_changes_while_stopped_are_each_processed_once_after_a_restart(world: World) -> None:
    runtime = world.runtime()
    listener = world.listener(runtime)
    stop, thread = run_in_background(listener)  # first start: LATEST, stores the tip
    assert wait_until(lambda: runtime.state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 5)
    stop.set()
    thread.join(5)
    leads = [world.org.create_lead({**HOT_LEAD, "Email": f"p{n}@acme.example"}) for n in range(250)]
    for lead in leads:  # 500 changes while nothing listens
        world.org.update_record("Lead", lead, {"Rating": "Warm"})
    restarted = world.runtime()
    stop, thread = run_in_background(world.listener(restarted))
    latest = world.pubsub.latest_replay().hex()
    assert wait_until(lambda: restarted.state.get_cursor(cursor_name(LEAD_TOPIC)) == latest, 15)
    report = drain(restarted.pipeline)
    stop.set()
    thread.join(5)
    assert report.records == 250  # 500 events, coalesced by record
    assert all(_writes_to(world.org, lead) == 1 for lead in leads)
    assert all(world.org.record("Lead", lead)["Lead_Temperature__c"] for lead in leads)


def test_own_writes_cause_no_second_write(world: World) -> None:
    runtime = world.runtime()
    listener = world.listener(runtime)
    stop, thread = run_in_background(listener)
    assert wait_until(lambda: listener.subscribers[0].stats.connected, 5)
    lead = world.org.create_lead(HOT_LEAD)
    assert wait_until(lambda: drain(runtime.pipeline).written == 1, 10)
    # The echo of that write comes back as an UPDATE by the integration user: dropped before the queue.
    assert wait_until(lambda: listener.subscribers[0].stats.own_writes == 1, 5)
    drain(runtime.pipeline)
    stop.set()
    thread.join(5)
    assert _writes_to(world.org, lead) == 1
    assert runtime.queue.stats().depth == 0


def test_a_change_to_a_field_no_mapping_reads_causes_no_api_call(world: World) -> None:
    lead = world.org.create_lead(HOT_LEAD)
    runtime = world.runtime()
    listener = world.listener(runtime)
    stop, thread = run_in_background(listener)
    assert wait_until(lambda: listener.subscribers[0].stats.connected, 5)
    calls_before = sum(world.org.calls.values())
    world.org.update_record("Lead", lead, {"FirstName": "Ada"})  # leadtherm reads no name
    assert wait_until(lambda: listener.subscribers[0].stats.irrelevant == 1, 5)
    report = drain(runtime.pipeline)
    stop.set()
    thread.join(5)
    assert report.events == 0
    assert sum(world.org.calls.values()) == calls_before  # no query, no write


def test_a_gap_event_re_fetches_the_records_it_names(world: World) -> None:
    lead = world.org.create_lead(HOT_LEAD)
    runtime = world.runtime()
    listener = world.listener(runtime)
    stop, thread = run_in_background(listener)
    assert wait_until(lambda: listener.subscribers[0].stats.connected, 5)
    world.pubsub.publish_gap("Lead", [lead], "GAP_UPDATE")
    assert wait_until(lambda: listener.subscribers[0].stats.gaps == 1, 5)
    report = drain(runtime.pipeline)
    stop.set()
    thread.join(5)
    assert report.records == 1 and report.written == 1
    assert world.org.record("Lead", lead)["Lead_Temperature__c"] == "warm"


def test_an_expired_replay_id_is_reported_and_caught_up_by_a_backfill(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = world.runtime()
    listener = world.listener(runtime)
    stop, thread = run_in_background(listener)
    assert wait_until(lambda: runtime.state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 5)
    stop.set()
    thread.join(5)
    missed = world.org.create_lead(HOT_LEAD)
    world.pubsub.expire_all()  # 72 hours pass: the change above is gone from the stream
    restarted = world.runtime()
    listener = world.listener(restarted)
    with caplog.at_level(logging.ERROR, logger="leadtherm.salesforce.cdc"):
        stop, thread = run_in_background(listener)
        assert wait_until(lambda: listener.subscribers[0].stats.catchups == 1, 10)
        assert wait_until(lambda: listener.subscribers[0].stats.connected, 10)
    stop.set()
    thread.join(5)
    assert "no longer retained" in caplog.text and "backfilling Lead" in caplog.text
    assert "no longer retained" in (listener.subscribers[0].stats.last_catchup or "")
    assert world.org.record("Lead", missed)["Lead_Temperature__c"] == "warm"  # the backfill scored it
    assert restarted.state.get_cursor(cursor_name(LEAD_TOPIC)) not in (None, "earliest")
