"""The pipeline under faults: poison records, CRM-wide failures, running out of lease, a crash before the commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.sqlite.store import StorageError
from integration.composition.runtime import settings_from_env
from integration.composition.settings import load_settings
from integration.domain.outputs import format_datetime
from integration.errors import AuthError, ConfigError, DailyLimitExhausted, OutputFieldsMissing, RetryBudgetError
from integration.ports import QueueItem, Settlement, StateStore
from integration.service.backfill import backfill, cursor_name
from integration.service.pause import CrmPauses, RecordedPauses
from integration.service.pipeline import RECOVERED, BatchReport, PipelineSettings
from integration.service.retry import POLICY, RetryPolicy
from integration.service.worker import drain
from tests.pipeline_world import World, make_world

SECRET_VALUE = "jane.doe@example.com +49 170 1234567"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _everything_recorded(world: World, caplog: pytest.LogCaptureFixture) -> str:
    """Every place a value could leak to: log lines, dead-letter reasons, audit entries."""
    letters = [letter.reason for letter in world.queue.dead_letters()]
    audits = [repr(entry) for ref in world.crm.records for entry in world.state.audit(ref)]
    return "\n".join([caplog.text, *letters, *audits])


@pytest.mark.parametrize("value", ["1e400", "inf", "-inf", "nan"])
def test_a_number_that_overflows_dead_letters_its_record_naming_the_field_and_the_batch_goes_on(
    world: World, value: str
) -> None:
    poison = world.contact("51", hs_analytics_num_page_views=value)
    healthy = world.contact("52")
    world.queue.enqueue([world.event(poison, "e1"), world.event(healthy, "e2")])
    report = drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert letter.event.ref == poison
    assert "hs_analytics_num_page_views" in letter.reason
    assert value not in letter.reason
    assert report.written == 1 and world.field(healthy, "temperature") == "warm"
    assert world.queue.stats().depth == 0


def test_no_record_value_reaches_the_log_the_dead_letters_or_the_audit(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ref = world.contact("51", hs_analytics_num_page_views=SECRET_VALUE, jobtitle=SECRET_VALUE)
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert "hs_analytics_num_page_views" in letter.reason
    recorded = _everything_recorded(world, caplog)
    assert "jane.doe" not in recorded and "1234567" not in recorded


def test_an_unexpected_exception_while_scoring_one_record_dead_letters_only_that_record(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import integration.domain.decisions as decisions

    real = decisions.assess

    def fragile(lead, rules, now):  # type: ignore[no-untyped-def]
        if lead.record_id == "51" and lead.page_views:
            raise ZeroDivisionError("a bug nobody foresaw")
        return real(lead, rules, now)

    monkeypatch.setattr(decisions, "assess", fragile)
    poison, healthy = world.contact("51"), world.contact("52")
    world.queue.enqueue([world.event(poison, "e1"), world.event(healthy, "e2")])
    report = drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert letter.event.ref == poison
    assert "ZeroDivisionError" in letter.reason
    assert "hs_analytics_num_page_views" in letter.reason  # the field that alone makes it fail
    assert report.written == 1


@pytest.mark.parametrize(
    "failure",
    [AuthError("HubSpot refused the token"), DailyLimitExhausted("daily limit reached")],
    ids=["revoked-token", "daily-limit"],
)
def test_a_crm_wide_failure_pauses_the_crm_keeps_every_event_and_resumes_on_a_good_probe(
    world: World, failure: Exception
) -> None:
    clock = ManualClock()
    world.pipeline.pauses = CrmPauses(probe_every=30.0, clock=clock)
    refs = [world.contact(str(n)) for n in range(51, 56)]
    world.queue.enqueue([world.event(ref, f"e{ref.record_id}") for ref in refs])
    world.crm.failures.append(failure)
    report = world.pipeline.run_once()
    assert report.deferred == 5 and report.dead_lettered == 0
    assert "hubspot paused" in str(world.pipeline.health())
    world.clock.advance(seconds=31)  # the queue's clock: the events are visible again
    fetches = len(world.crm.fetch_calls)
    assert world.pipeline.run_once().deferred == 5  # no probe yet: the CRM is not called
    assert len(world.crm.fetch_calls) == fetches
    for _ in range(10):  # many more passes than attempts: a paused CRM spends none
        world.clock.advance(seconds=31)
        world.pipeline.run_once()
    assert world.queue.dead_letters() == []
    clock.now += 31  # the probe is due and the CRM answers again
    world.clock.advance(seconds=31)
    report = drain(world.pipeline)
    assert report.written == 5
    assert world.pipeline.health() is None
    assert world.queue.stats().depth == 0


def test_a_pause_is_recorded_for_a_console_elsewhere_and_cleared_when_the_crm_answers_again(world: World) -> None:
    clock = ManualClock()
    world.pipeline.pauses = CrmPauses(probe_every=30.0, clock=clock, record=world.state)
    elsewhere = RecordedPauses(world.state, ["hubspot", "salesforce"])  # what another process reads
    assert elsewhere.paused() == {}
    world.queue.enqueue([world.event(world.contact("61"), "e61")])
    world.crm.failures.append(AuthError("HubSpot refused the token"))
    world.pipeline.run_once()
    [(crm, why)] = elsewhere.paused().items()
    assert crm == "hubspot" and why.startswith("HubSpot refused the token (since 20")
    clock.now += 31
    world.clock.advance(seconds=31)
    assert drain(world.pipeline).written == 1
    assert elsewhere.paused() == {}


def test_a_state_store_that_cannot_record_a_pause_still_pauses(world: World) -> None:
    class Unwritable:
        def get_pause(self, crm: str) -> str | None:
            return None

        def set_pause(self, crm: str, record: str | None) -> None:
            raise StorageError("database is locked")

    pauses = CrmPauses(probe_every=30.0, record=Unwritable())
    pauses.pause("hubspot", "HubSpot refused the token")
    assert pauses.paused() == {"hubspot": "HubSpot refused the token"} and not pauses.admit("hubspot")


def test_missing_output_fields_are_reported_with_the_setup_command(world: World) -> None:
    mapping = world.pipeline.crms["hubspot"].normalizer.mapping
    world.crm.known_fields = set(mapping.read_fields) - {"leadtherm_score"}
    with pytest.raises(OutputFieldsMissing, match="run leadtherm setup hubspot") as caught:
        world.pipeline.check_outputs()
    assert caught.value.fields == ["leadtherm_score"]
    world.crm.known_fields = set()
    world.pipeline.check_outputs()


def test_a_pass_without_time_for_a_call_defers_its_events_without_spending_an_attempt(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    for _ in range(5):
        items = world.queue.lease(10, 60)
        report = world.pipeline.process(items, budget=0.0)
        assert report.deferred == 1
    assert world.crm.fetch_calls == []
    [item] = world.queue.lease(10, 60)
    assert item.attempts == 1  # five passes ran out of time; none counted against the event


def test_the_retry_policy_must_fit_inside_the_lease() -> None:
    with pytest.raises(RetryBudgetError, match="visibility timeout"):
        PipelineSettings(visibility_timeout=20.0)
    assert POLICY.call_worst_case() + 2 <= PipelineSettings().visibility_timeout
    tight = RetryPolicy(call_attempts=2, request_timeout=3.0, max_call_wait=1.0)
    PipelineSettings(visibility_timeout=12.0, retry=tight)


def test_leadtherm_max_receives_sets_the_pipelines_attempts() -> None:
    assert settings_from_env(load_settings({"LEADTHERM_MAX_RECEIVES": "4"})).retry.queue_attempts == 4
    assert settings_from_env(load_settings({})).retry.queue_attempts == POLICY.queue_attempts
    # Refused once, where the settings are loaded: the pipeline never sees the bad value.
    with pytest.raises(ConfigError, match="LEADTHERM_MAX_RECEIVES"):
        load_settings({"LEADTHERM_MAX_RECEIVES": "five"})


class CrashingQueue:
    """The SQLite queue, whose next `settle` dies as a kill -9 would: after the CRM write, before the commit."""

    def __init__(self, world: World) -> None:
        self.inner = world.queue
        self.crash_next = True

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def lease(self, max_items: int, visibility_timeout: float) -> list[QueueItem]:
        return self.inner.lease(max_items, visibility_timeout)

    def settle(self, batch: Settlement, state: StateStore) -> None:
        if self.crash_next:
            self.crash_next = False
            raise StorageError("simulated crash before the commit")
        self.inner.settle(batch, state)


def test_after_a_crash_between_the_crm_write_and_the_commit_the_write_is_audited_and_history_is_right(
    world: World,
) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    drain(world.pipeline)
    first_change = world.field(ref, "temperature_changed_at")
    crashing = CrashingQueue(world)
    world.pipeline.queue = crashing  # type: ignore[assignment]
    world.clock.advance(hours=1)
    hot = {f"leadtherm_{c}": "true" for c in ("need", "budget", "authority", "timeline")}
    world.queue.enqueue([world.crm.change(ref, {**hot, "jobtitle": "CEO"})])
    with pytest.raises(StorageError):
        world.pipeline.run_once()
    assert world.field(ref, "temperature") == "hot"  # the CRM has it; our state and audit do not
    writes = len(world.crm.write_calls)
    world.clock.advance(seconds=PipelineSettings().visibility_timeout + 1)  # the lease runs out
    report = drain(world.pipeline)
    assert report.recovered == 1
    assert len(world.crm.write_calls) == writes  # nothing written twice
    [stored] = world.state.load([ref]).values()
    assert stored.temperature == "hot"
    assert stored.previous_temperature == "warm" == world.field(ref, "previous_temperature")
    assert stored.temperature_changed_at is not None
    assert format_datetime(stored.temperature_changed_at) == world.field(ref, "temperature_changed_at")
    assert world.field(ref, "temperature_changed_at") != first_change
    audited = [e for e in world.state.audit(ref) if e.action == "write"]
    assert len(audited) == len([c for call in world.crm.write_calls for c in call if c.ref == ref])
    assert audited[0].reasons == [RECOVERED]
    assert audited[0].changes["temperature"] == ("warm", "hot")


def test_a_pass_commits_state_audit_and_settlement_in_one_transaction(world: World) -> None:
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    crashing = CrashingQueue(world)
    world.pipeline.queue = crashing  # type: ignore[assignment]
    with pytest.raises(StorageError):
        world.pipeline.run_once()
    assert world.state.load([ref]) == {}
    assert world.state.audit(ref) == []
    assert world.state.unprocessed(["e1"]) == {"e1"}
    assert world.queue.stats().depth == 1  # still queued, for the next pass


def test_backfill_moves_past_a_poison_record_and_reruns_are_never_stuck(world: World) -> None:
    for n in range(1, 8):
        world.contact(str(n), **({"hs_analytics_num_page_views": "1e400"} if n == 3 else {}))
    queue, state = world.queue, world.state
    for _ in range(2):  # a rerun (and a restart) goes through the same page again, never stuck on it
        state.set_cursor(cursor_name("hubspot", "contact"), None)
        report = backfill(world.pipeline, "hubspot", ["contact"], state, queue, page_size=2)
        assert report.records == 7
        assert report.retried == 1 and report.failed == 1
        assert state.get_cursor(cursor_name("hubspot", "contact")) is None  # finished
    drain(world.pipeline)
    [letter] = world.queue.dead_letters()
    assert letter.event.ref.record_id == "3"
    assert "hs_analytics_num_page_views" in letter.reason


def test_backfill_stops_on_a_crm_wide_failure_and_resumes_from_that_page(world: World) -> None:
    for n in range(1, 8):
        world.contact(str(n))
    world.crm.failures = [AuthError("revoked")]
    first = backfill(world.pipeline, "hubspot", ["contact"], world.state, world.queue, page_size=2)
    assert first.paused == {"hubspot": "revoked"}
    world.pipeline.pauses.resume("hubspot")
    again = backfill(world.pipeline, "hubspot", ["contact"], world.state, world.queue, page_size=2)
    assert again.paused == {} and again.records == 7


class ReleasingQueue:
    """Records the order of the settlement steps a backend without transactions would run."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def ack(self, items: Sequence[QueueItem]) -> None:
        self.steps.append("ack")

    def release(self, items: Sequence[QueueItem], delay: float) -> None:
        self.steps.append("release")

    def defer(self, items: Sequence[QueueItem], delay: float) -> None:
        self.steps.append("defer")

    def dead_letter(self, items: Sequence[QueueItem], reason: str) -> None:
        self.steps.append("dead_letter")


def test_without_a_transaction_the_queue_is_settled_last(world: World) -> None:
    from integration.service.settlement import settle_in_order

    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    [item] = world.queue.lease(10, 60)
    queue = ReleasingQueue()
    batch = Settlement(acked=[item], dead=[([item], "why")], processed=["e1"])
    batch = replace(batch, processed_until=world.clock.now + timedelta(days=1))
    settle_in_order(queue, world.state, batch)
    assert queue.steps == ["dead_letter", "ack"]
    assert world.state.unprocessed(["e1"]) == set()


def test_the_worker_outlives_an_unexpected_failure_of_a_whole_pass(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from leadtherm_sandboxes.waiting import wait_until

    from integration.service.worker import run_worker

    real = world.pipeline.run_once
    calls = {"n": 0}

    def flaky() -> BatchReport:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug outside any record")
        return real()

    monkeypatch.setattr(world.pipeline, "run_once", flaky)
    ref = world.contact("51")
    world.queue.enqueue([world.event(ref, "e1")])
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(world.pipeline, stop, 0.01), daemon=True)
    worker.start()
    try:
        assert wait_until(lambda: world.field(ref, "temperature") == "warm", 10)
        assert worker.is_alive()
    finally:
        stop.set()
        worker.join(5)
