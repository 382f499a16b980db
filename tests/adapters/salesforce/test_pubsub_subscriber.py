"""CDC through the Pub/Sub API: real grpcio against the sandbox's gRPC endpoint, real SDKs, SQLite backend."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import pytest
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.salesforce.pubsub.listener import CdcIntake
from adapters.salesforce.pubsub.subscriber import cursor_name
from integration.composition.intakes import start_intakes
from integration.composition.plugins import load_crm
from integration.ports import RecordRef
from integration.service.worker import drain
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
    runtime, listener, stop, thread = world.listening()
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
    runtime, listener, stop, thread = world.listening()
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
    runtime, listener, stop, thread = world.listening()
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
    world.pubsub.retention = 0.2  # as if 72 hours passed: the change above falls out of the stream
    time.sleep(0.4)
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


def test_a_delete_forgets_the_record_and_an_undelete_scores_it_again(world: World) -> None:
    runtime, _, stop, thread = world.listening()
    lead = world.org.create_lead(HOT_LEAD)
    assert wait_until(lambda: drain(runtime.pipeline).written == 1, 10)
    ref = next(iter(runtime.state.load([RecordRef("salesforce", "Lead", lead)])))
    kept = world.org.record("Lead", lead)
    world.org.delete_record("Lead", lead)
    assert wait_until(lambda: drain(runtime.pipeline).forgotten == 1, 10)
    assert runtime.state.load([ref]) == {}
    world.pubsub.undelete("Lead", {**kept, "Lead_Temperature__c": None})
    assert wait_until(lambda: drain(runtime.pipeline).written == 1, 10)
    stop.set()
    thread.join(5)
    assert ref in runtime.state.load([ref])


def test_an_expired_session_is_refreshed_and_the_stream_resumes(world: World) -> None:
    runtime, listener, stop, thread = world.listening()
    world.org.expire_sessions()
    assert wait_until(lambda: listener.subscribers[0].stats.session_refreshes >= 1, 5)
    lead = world.org.create_lead(HOT_LEAD)
    assert wait_until(lambda: listener.subscribers[0].stats.queued >= 1, 10)
    assert drain(runtime.pipeline).written == 1  # the REST client got the renewed session too
    stop.set()
    thread.join(5)
    assert world.org.record("Lead", lead)["Lead_Temperature__c"] == "warm"


def test_a_dropped_stream_reconnects_and_resumes_from_the_stored_replay_id(world: World) -> None:
    runtime, listener, stop, thread = world.listening()
    world.pubsub.cut_streams()
    lead = world.org.create_lead(HOT_LEAD)  # made while the stream is down
    assert wait_until(lambda: listener.subscribers[0].stats.reconnects >= 1, 5)
    assert wait_until(lambda: listener.subscribers[0].stats.queued == 1, 10)
    assert drain(runtime.pipeline).written == 1
    stop.set()
    thread.join(5)
    assert world.pubsub.subscribes >= 2
    assert _writes_to(world.org, lead) == 1


def test_health_reports_a_cdc_intake_that_cannot_connect(world: World) -> None:
    runtime = world.runtime()
    stop = threading.Event()
    [intake] = load_crm("salesforce").intakes(runtime, {**world.env, "SALESFORCE_CDC": "1"})
    assert isinstance(intake, CdcIntake)
    [running] = start_intakes([intake], stop)
    assert wait_until(lambda: intake.stats()["salesforce_cdc"][0]["connected"], 5)
    assert running.health() is None
    for subscriber in intake.listener.subscribers:
        subscriber.settings = replace(subscriber.settings, connect_grace=0.2)
    world.pubsub.stop()
    assert wait_until(lambda: running.health() is not None, 10)
    stop.set()
    running.thread.join(5)
    assert "not connected" in (running.health() or "")
    assert intake.stats()["salesforce_cdc"][0]["reconnects"] >= 1


def test_the_cdc_intake_is_off_until_salesforce_cdc_turns_it_on(world: World) -> None:
    runtime = world.runtime()
    plugin = load_crm("salesforce")
    assert plugin.intakes(runtime, {**world.env, "SALESFORCE_CDC": "0"}) == []
    [intake] = plugin.intakes(runtime, {**world.env, "SALESFORCE_CDC": "1"})
    assert intake.name == "salesforce-cdc"
    intake.listener.close()


def test_a_first_start_from_earliest_replays_what_is_retained(world: World) -> None:
    lead = world.org.create_lead(HOT_LEAD)  # before leadtherm ever listened
    runtime = world.runtime()
    listener = world.listener(runtime, SALESFORCE_CDC_START="EARLIEST")
    stop, thread = run_in_background(listener)
    assert wait_until(lambda: listener.subscribers[0].stats.queued == 1, 10)
    assert drain(runtime.pipeline).written == 1
    stop.set()
    thread.join(5)
    assert world.org.record("Lead", lead)["Lead_Temperature__c"] == "warm"


def test_health_reports_a_listener_falling_behind_the_commit_timestamps(world: World) -> None:
    _, listener, stop, thread = world.listening(SALESFORCE_CDC_MAX_LAG="60")
    assert listener.health() is None
    listener.subscribers[0].clock = lambda: time.time() + 600  # the next event is received ten minutes late
    problems: list[str] = []

    def degraded() -> bool:  # the next keep-alive (caught up again) clears it: keep what was seen
        problem = listener.health()
        problems.extend([problem] if problem else [])
        return bool(problem)

    world.org.create_lead(HOT_LEAD)
    assert wait_until(degraded, 5, step=0.005)
    stop.set()
    thread.join(5)
    assert "behind commitTimestamp" in problems[0]


def test_a_stored_replay_id_that_is_not_ours_leads_to_a_reported_catch_up(world: World) -> None:
    runtime = world.runtime()
    runtime.state.set_cursor(cursor_name(LEAD_TOPIC), "not-a-replay-id")
    lead = world.org.create_lead(HOT_LEAD)
    listener = world.listener(runtime)
    stop, thread = run_in_background(listener)
    assert wait_until(lambda: listener.subscribers[0].stats.catchups == 1, 10)
    assert wait_until(lambda: listener.subscribers[0].stats.connected, 10)
    stop.set()
    thread.join(5)
    assert "not hex" in (listener.subscribers[0].stats.last_catchup or "")
    assert world.org.record("Lead", lead)["Lead_Temperature__c"] == "warm"
