"""The WorkQueue and StateStore contract, written once: every backend's tests subclass it.

A subclass provides `backend` -> (queue, state, clock) where `clock.advance(seconds)` moves
the backend's notion of time (or sleeps, for a backend that cannot be given a clock).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from integration.ports import (
    AuditEntry,
    ChangeEvent,
    RecordQuery,
    RecordRef,
    RecordSearch,
    Settlement,
    StateStore,
    StoredAssessment,
    WorkQueue,
)


class Advance(Protocol):
    def advance(self, seconds: float) -> None: ...


Backend = tuple[WorkQueue, StateStore, Advance]
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def ref(n: int) -> RecordRef:
    return RecordRef("hubspot", "contact", str(n))


def event(event_id: str, n: int) -> ChangeEvent:
    return ChangeEvent(event_id, ref(n), occurred_at=NOW, changed_fields=("jobtitle",), actor="userId:7")


def stored(temperature: str = "warm", drop: datetime | None = None) -> StoredAssessment:
    return StoredAssessment(
        62, 70, 54, temperature, "mql", [("fit", "Decision-maker title", 25.0)], "Call", NOW, NOW, "cool", drop
    )


class BackendContract:
    def test_a_deferred_event_comes_back_without_spending_an_attempt(self, backend: Backend) -> None:
        queue, _, clock = backend
        queue.enqueue([event("e1", 1)])
        [item] = queue.lease(10, 30)
        queue.defer([item], 1)
        clock.advance(2)
        [again] = queue.lease(10, 30)
        assert again.event == event("e1", 1)
        assert again.attempts == 1

    def test_a_settlement_stores_audits_marks_dead_letters_with_the_reason_and_acks(self, backend: Backend) -> None:
        queue, state, _ = backend
        queue.enqueue([event("e1", 1), event("e2", 2)])
        items = {i.event.event_id: i for i in queue.lease(10, 30)}
        entry = AuditEntry(ref(1), NOW, "write", {"temperature": ("cool", "warm")}, ["Decision-maker title (+25)"])
        batch = Settlement(
            saved={ref(1): stored()},
            audit=[entry],
            processed=["e1"],
            processed_until=datetime(2100, 1, 1, tzinfo=UTC),
            acked=[items["e1"]],
            dead=[([items["e2"]], "cannot read field 'numemployees' (company_size): expected a number")],
        )
        queue.settle(batch, state)
        assert state.load([ref(1)]) == {ref(1): stored()}
        assert state.audit(ref(1)) == [entry]
        assert state.unprocessed(["e1", "e2"]) == {"e2"}
        [letter] = queue.dead_letters()
        assert letter.event.event_id == "e2" and "numemployees" in letter.reason
        assert queue.lease(10, 30) == []

    def test_an_enqueued_event_is_leased_intact_and_gone_once_acked(self, backend: Backend) -> None:
        queue, _, _ = backend
        queue.enqueue([event("e1", 1)])
        [item] = queue.lease(10, 30)
        assert item.event == event("e1", 1)
        assert item.attempts == 1
        queue.ack([item])
        assert queue.lease(10, 30) == []
        assert queue.stats().depth == 0

    def test_a_leased_event_is_hidden_until_its_visibility_timeout_then_returns(self, backend: Backend) -> None:
        queue, _, clock = backend
        queue.enqueue([event("e1", 1)])
        [_first] = queue.lease(10, 2)
        assert queue.lease(10, 2) == []
        clock.advance(3)
        [again] = queue.lease(10, 2)
        assert again.event.event_id == "e1"
        assert again.attempts == 2

    def test_a_released_event_comes_back_after_its_delay(self, backend: Backend) -> None:
        queue, _, clock = backend
        queue.enqueue([event("e1", 1)])
        [item] = queue.lease(10, 30)
        queue.release([item], 2)
        assert queue.lease(10, 30) == []
        clock.advance(3)
        assert [i.event.event_id for i in queue.lease(10, 30)] == ["e1"]

    def test_a_dead_letter_keeps_its_reason_and_can_be_replayed(self, backend: Backend) -> None:
        queue, _, _ = backend
        queue.enqueue([event("e1", 1)])
        [item] = queue.lease(10, 30)
        queue.dead_letter([item], "PROPERTY_DOESNT_EXIST: leadtherm_score")
        [letter] = queue.dead_letters()
        assert letter.reason == "PROPERTY_DOESNT_EXIST: leadtherm_score"
        assert letter.event.ref == ref(1)
        assert queue.stats().dead_letters == 1
        assert queue.replay() == 1
        assert [i.event.event_id for i in queue.lease(10, 30)] == ["e1"]
        assert queue.dead_letters() == []

    def test_an_event_that_never_reached_the_queue_is_dead_lettered_with_its_reason(self, backend: Backend) -> None:
        queue, _, _ = backend
        queue.enqueue([event("e1", 1)])
        queue.dead_letter_events([event("poison", 2)], "cannot be read: replay id 00ff")
        [letter] = queue.dead_letters()
        assert (letter.event.event_id, letter.event.ref) == ("poison", ref(2))
        assert letter.reason == "cannot be read: replay id 00ff"
        assert queue.stats().depth == 1  # the queue itself is untouched
        assert [i.event.event_id for i in queue.lease(10, 30)] == ["e1"]

    def test_stats_count_depth_and_dead_letters(self, backend: Backend) -> None:
        queue, _, _ = backend
        queue.enqueue([event("e1", 1), event("e2", 2), event("e3", 3)])
        items = queue.lease(1, 30)
        queue.dead_letter(items, "bad")
        stats = queue.stats()
        assert stats.depth == 2
        assert stats.dead_letters == 1

    def test_state_is_saved_loaded_and_forgotten(self, backend: Backend) -> None:
        _, state, _ = backend
        state.save(ref(1), stored())
        state.save_many({ref(2): stored("hot"), ref(3): stored("cold")})
        loaded = state.load([ref(1), ref(2), ref(4)])
        assert loaded == {ref(1): stored(), ref(2): stored("hot")}
        state.forget(ref(1))
        assert state.load([ref(1)]) == {}

    def test_due_returns_only_records_whose_drop_has_come_soonest_first(self, backend: Backend) -> None:
        _, state, _ = backend
        state.save_many(
            {
                ref(1): stored(drop=NOW + timedelta(hours=2)),
                ref(2): stored(drop=NOW - timedelta(hours=1)),
                ref(3): stored(drop=NOW - timedelta(hours=3)),
                ref(4): stored(drop=None),
            }
        )
        assert state.due(NOW, 10) == [ref(3), ref(2)]
        assert state.due(NOW, 1) == [ref(3)]

    def test_processed_ids_are_remembered_until_they_expire(self, backend: Backend) -> None:
        _, state, clock = backend
        state.mark_processed(["e1"], datetime.now(UTC) + timedelta(seconds=2))
        assert state.unprocessed(["e1", "e2"]) == {"e2"}
        clock.advance(3)
        assert state.unprocessed(["e1", "e2"]) == {"e1", "e2"}

    def test_audit_is_newest_first_and_limited(self, backend: Backend) -> None:
        _, state, _ = backend
        state.append_audit(
            [
                AuditEntry(ref(1), NOW + timedelta(minutes=n), "write", {"temperature": ("cool", "warm")})
                for n in range(5)
            ]
        )
        history = state.audit(ref(1), limit=3)
        assert [e.at for e in history] == [NOW + timedelta(minutes=n) for n in (4, 3, 2)]
        assert history[0].changes == {"temperature": ("cool", "warm")}
        assert state.audit(ref(2)) == []

    def test_cursors_are_kept_and_cleared(self, backend: Backend) -> None:
        _, state, _ = backend
        assert state.get_cursor("backfill:hubspot:contact") is None
        state.set_cursor("backfill:hubspot:contact", "7001")
        assert state.get_cursor("backfill:hubspot:contact") == "7001"
        state.set_cursor("backfill:hubspot:contact", None)
        assert state.get_cursor("backfill:hubspot:contact") is None

    def test_a_pause_is_recorded_apart_from_the_cursors_and_cleared(self, backend: Backend) -> None:
        _, state, _ = backend
        assert state.get_pause("hubspot") is None
        state.set_pause("hubspot", '{"reason": "token revoked"}')
        state.set_cursor("hubspot", "7001")  # a cursor of the same name is another thing
        assert state.get_pause("hubspot") == '{"reason": "token revoked"}'
        assert state.get_pause("salesforce") is None
        state.set_cursor("hubspot", None)
        assert state.get_pause("hubspot") == '{"reason": "token revoked"}'
        state.set_pause("hubspot", None)
        assert state.get_pause("hubspot") is None

    def test_a_search_finds_records_by_id_company_title_and_temperature(self, backend: Backend) -> None:
        _, state, _ = backend
        acme_director = replace(stored("hot"), company="Acme Robotics", seniority="director")
        state.save_many(
            {
                ref(101): acme_director,
                ref(102): replace(stored("cold"), company="Baltic Foods", seniority="student"),
                ref(203): replace(stored("warm"), company="ACME Logistics", seniority="manager"),
            }
        )
        assert isinstance(state, RecordSearch)

        def refs(query: RecordQuery) -> list[str]:
            return sorted(r.record_id for r, _ in state.search(query, None, 10).records)

        assert refs(RecordQuery(text="acme")) == ["101", "203"]
        assert refs(RecordQuery(text="10")) == ["101", "102"]
        assert refs(RecordQuery(title="Director")) == ["101"]
        assert refs(RecordQuery(title="decision-maker")) == ["101", "102", "203"]  # the label of a reason
        assert refs(RecordQuery(text="acme", temperature="warm")) == ["203"]
        assert state.search(RecordQuery(text="101"), None, 10).records == [(ref(101), acme_director)]
        assert refs(RecordQuery(text="nobody")) == []

    def test_a_search_pages_through_the_records_with_its_cursor(self, backend: Backend) -> None:
        _, state, _ = backend
        state.save_many(
            {ref(n): replace(stored("warm" if n % 2 else "cold"), company=f"Firm {n}") for n in range(1, 8)}
        )
        assert isinstance(state, RecordSearch)
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = state.search(RecordQuery(temperature="warm"), cursor, 2)
            assert len(page.records) <= 2
            seen += [r.record_id for r, _ in page.records]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == ["1", "3", "5", "7"]
        assert pages >= 2

    def test_a_search_matches_letters_beyond_ascii_and_takes_wildcards_literally(self, backend: Backend) -> None:
        _, state, _ = backend
        state.save_many(
            {
                ref(1): replace(stored(), company="Müller Bäckerei GmbH"),
                ref(2): replace(stored(), company="100% Organic_Foods"),
                ref(3): replace(stored(), company="1000 Organics"),
            }
        )
        assert isinstance(state, RecordSearch)

        def refs(text: str) -> list[str]:
            return sorted(r.record_id for r, _ in state.search(RecordQuery(text=text), None, 10).records)

        assert refs("MÜLLER") == ["1"]
        assert refs("0% org") == ["2"]
        assert refs("organic_") == ["2"]
