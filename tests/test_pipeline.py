"""The durable pipeline on the embedded backend, against the in-memory fake CRM."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from integration.ports import EventKind, RecordRef
from integration.service.guard import GuardedClient
from integration.service.retry import retry_on_rate_limit
from integration.service.sweep import enqueue_due
from integration.service.worker import drain
from tests.pipeline_world import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_a_changed_contact_gets_its_fields_written(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    report = drain(world.pipeline)
    assert report.written == 1
    assert world.field(ref, "temperature") == "warm"
    assert world.field(ref, "score") >= 50
    assert world.field(ref, "stage") in {"lead", "mql"}
    assert "Director or VP title" in world.field(ref, "reasons")
    assert world.field(ref, "next_action")
    assert world.field(ref, "temperature_changed_at") == "2026-11-01T09:00:00.000Z"
    assert world.field(ref, "previous_temperature") is None  # nothing held before


def test_a_duplicated_event_id_is_processed_once(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    world.queue.enqueue([world.event(ref, "e1")])  # the CRM redelivers it
    report = drain(world.pipeline)
    assert report.duplicates == 1
    assert len(world.crm.fetch_calls) == 1
    assert len(world.crm.write_calls) == 1


def test_fifty_events_for_one_record_cause_one_fetch_and_at_most_one_write(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, f"e{n}") for n in range(50)])
    report = drain(world.pipeline)
    assert report.events == 50
    assert world.crm.fetch_calls == [[ref]]
    assert len(world.crm.write_calls) == 1


def test_an_unchanged_assessment_causes_no_write(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    world.queue.enqueue([world.crm.change(ref, {"hs_email_open": "9"})])  # one open: no points move
    report = drain(world.pipeline)
    assert report.unchanged == 1
    assert len(world.crm.fetch_calls) == 2
    assert len(world.crm.write_calls) == 1


def test_a_change_to_a_field_leadtherm_does_not_read_costs_no_api_call(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    world.queue.enqueue([world.crm.change(ref, {"firstname": "Ana"})])
    report = drain(world.pipeline)
    assert report.irrelevant == 1
    assert len(world.crm.fetch_calls) == 1


def test_a_changed_deal_rescores_its_contacts_once_each(world: World) -> None:
    ana, ben = world.contact("51"), world.contact("52")
    deal = RecordRef("hubspot", "deal", "9001")
    world.crm.links[deal] = [ana, ben]
    world.queue.enqueue([world.event(ana, "e1"), world.event(deal, "d1"), world.event(deal, "d2")])
    report = drain(world.pipeline)
    assert report.written == 2
    assert sorted(ref for call in world.crm.fetch_calls for ref in call) == [ana, ben]
    assert world.queue.stats().depth == 0


def test_the_echo_of_its_own_write_causes_no_fetch_and_no_write(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    echoes = list(world.crm.outbox)
    assert echoes, "the fake CRM reports our write as a change, as the real ones do"
    world.queue.enqueue(echoes)
    report = drain(world.pipeline)
    assert report.echoes == len(echoes)
    assert len(world.crm.fetch_calls) == 1
    assert len(world.crm.write_calls) == 1


def test_a_429_with_retry_after_is_waited_out_and_retried(tmp_path: Path) -> None:
    slept: list[float] = []
    world = make_world(tmp_path)
    guarded = GuardedClient(world.crm, retrying=lambda **kw: retry_on_rate_limit(sleep=slept.append, **kw))
    world.pipeline.crms["hubspot"] = type(world.pipeline.crms["hubspot"])(
        guarded, world.pipeline.crms["hubspot"].normalizer
    )
    ref = world.contact("51")
    world.crm.rate_limit_next(retry_after=2.5)
    world.queue.enqueue([world.event(ref, "e1")])
    report = drain(world.pipeline)
    assert report.written == 1
    assert slept and slept[0] >= 2.5
    assert guarded.stats.rate_limited == 1


def test_a_transient_failure_is_retried_through_the_queue(world: World) -> None:
    ref = world.contact("51")
    world.crm.fail_next()
    world.queue.enqueue([world.event(ref, "e1")])
    report = drain(world.pipeline)
    assert report.retried == 1
    assert report.written == 1
    assert world.queue.stats().dead_letters == 0


def test_retries_that_never_succeed_end_in_the_dead_letter_queue(world: World) -> None:
    ref = world.contact("51")
    world.crm.fail_next(times=10)
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert "gave up after 3 attempts" in letter.reason
    assert letter.event.ref == ref


def test_a_permanent_error_lands_in_the_dlq_with_its_reason_and_replay_succeeds_once_fixed(
    world: World,
) -> None:
    mapping = world.pipeline.crms["hubspot"].normalizer.mapping
    world.crm.known_fields = set(mapping.read_fields) - {"leadtherm_reasons"}
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert "unknown field leadtherm_reasons" in letter.reason
    assert world.field(ref, "temperature") is None
    world.crm.known_fields = set()  # the admin ran `leadtherm setup`
    assert world.queue.replay() == 1
    report = drain(world.pipeline)
    assert report.written == 1
    assert world.field(ref, "temperature") == "warm"
    assert world.queue.dead_letters() == []


def test_a_record_that_cannot_be_read_is_dead_lettered_naming_the_field(world: World) -> None:
    ref = world.contact("51", hs_analytics_num_page_views="lots")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert "hs_analytics_num_page_views" in letter.reason
    assert world.crm.write_calls == []


def test_a_deleted_record_clears_its_state(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    assert world.state.load([ref])
    del world.crm.records[ref]
    world.queue.enqueue([world.event(ref, "e2")])
    report = drain(world.pipeline)
    assert report.forgotten == 1
    assert world.state.load([ref]) == {}


def test_a_deletion_event_forgets_without_asking_the_crm(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    world.queue.enqueue([world.event(ref, "e2", EventKind.FORGET)])
    drain(world.pipeline)
    assert world.state.load([ref]) == {}
    assert len(world.crm.fetch_calls) == 1
    assert world.state.audit(ref)[0].action == "forget"


def test_temperature_history_fields_change_only_with_the_temperature(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    first_change = world.field(ref, "temperature_changed_at")
    world.clock.advance(hours=1)
    world.queue.enqueue([world.crm.change(ref, {"hs_email_open": "10"})])  # score moves, band does not
    drain(world.pipeline)
    assert world.field(ref, "temperature") == "warm"
    assert world.field(ref, "temperature_changed_at") == first_change
    world.clock.advance(hours=1)
    world.queue.enqueue(
        [
            world.crm.change(
                ref,
                {
                    "leadtherm_need": "true",
                    "leadtherm_budget": "true",
                    "leadtherm_authority": "true",
                    "leadtherm_timeline": "true",
                    "jobtitle": "CEO",
                },
            )
        ]
    )
    drain(world.pipeline)
    assert world.field(ref, "temperature") == "hot"
    assert world.field(ref, "previous_temperature") == "warm"
    assert world.field(ref, "temperature_changed_at") == "2026-11-01T11:00:00.000Z"


def test_sweep_cools_a_warm_lead_that_went_silent_and_writes_once(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    assert world.field(ref, "temperature") == "warm"
    writes_before = len(world.crm.write_calls)
    world.clock.advance(days=90)
    due = enqueue_due(world.state, world.queue, world.clock.now)
    assert due == [ref]
    drain(world.pipeline)
    assert world.field(ref, "temperature") in {"cool", "cold"}
    assert world.field(ref, "previous_temperature") == "warm"
    assert len(world.crm.write_calls) == writes_before + 1
    assert enqueue_due(world.state, world.queue, world.clock.now) == []  # an immediate second sweep
    drain(world.pipeline)
    assert len(world.crm.write_calls) == writes_before + 1


def test_sweep_touches_only_the_records_that_are_due(world: World) -> None:
    fresh = [world.contact(str(n)) for n in range(1, 401)]
    # Silent for 47 days: still (just) warm, and two days later the decay takes them under the band.
    silent = (world.clock.now - timedelta(days=47)).isoformat()
    fading = {world.contact(str(n), hs_analytics_last_visit_timestamp=silent) for n in range(401, 421)}
    world.queue.enqueue([world.event(ref, f"e{ref.record_id}") for ref in [*fresh, *fading]])
    drain(world.pipeline)
    assert {world.field(ref, "temperature") for ref in fading} == {"warm"}
    world.crm.fetch_calls.clear()
    world.clock.advance(days=2)
    due = enqueue_due(world.state, world.queue, world.clock.now)
    drain(world.pipeline)
    fetched = {ref for call in world.crm.fetch_calls for ref in call}
    assert set(due) == fading
    assert fetched == fading
    assert {world.field(ref, "temperature") for ref in fading} == {"cool"}


def test_a_value_outside_its_map_is_logged_by_field_never_by_value(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    ref = world.contact("77", numemployees="5000-10000")
    world.queue.enqueue([world.event(ref, "e77")])
    with caplog.at_level("WARNING", logger="leadtherm.pipeline"):
        drain(world.pipeline)
    lines = [r.getMessage() for r in caplog.records]
    assert any("numemployees held a value its map does not list" in line for line in lines)
    assert not any("5000-10000" in line for line in lines)
    assert world.field(ref, "temperature") is not None  # still scored, as if the field were empty


def test_a_lease_holds_whole_read_and_write_batches_of_every_crm(tmp_path: Path) -> None:
    world = make_world(tmp_path, lease_size=500)
    world.crm.read_batch_size = world.crm.write_batch_size = 200  # Salesforce's SOQL IN list and Collections
    assert world.pipeline.lease_size() == 400  # 1,000 changes: 5 reads and 5 writes, not 6 and 6
    world.crm.write_batch_size = 100
    assert world.pipeline.lease_size() == 400
    world.crm.read_batch_size = world.crm.write_batch_size = 1000  # a lease smaller than one batch stays as set
    assert world.pipeline.lease_size() == 500


def test_a_burst_larger_than_a_lease_is_read_in_full_batches(tmp_path: Path) -> None:
    world = make_world(tmp_path, lease_size=500)
    world.crm.read_batch_size = world.crm.write_batch_size = 200
    refs = [world.contact(str(n)) for n in range(1000)]
    world.queue.enqueue([world.event(ref, f"e{ref.record_id}") for ref in refs])
    report = drain(world.pipeline)
    assert report.written == 1000
    assert len(world.crm.fetch_calls) == 5 and len(world.crm.write_calls) == 5
