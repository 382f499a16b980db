"""A small world for pipeline tests: the fake CRM, the SQLite backend, a clock we move by hand."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.sqlite import Database, SqliteStateStore, SqliteWorkQueue
from integration.domain.normalize import Normalizer
from integration.ports import ChangeEvent, CrmClient, EventKind, RecordRef
from integration.service.pipeline import CrmBinding, Pipeline, PipelineSettings
from integration.service.retry import POLICY
from mappings.loader import load_mapping, load_rules
from tests.fakes import FakeCrm

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def hubspot_contact(record_id: str, clock: Clock, **overrides: Any) -> dict[str, Any]:
    """A mid-market marketing director who has been browsing: warm with the default rules."""
    record = {
        "hs_object_id": record_id,
        "email": f"person{record_id}@acme-corp.example",
        "jobtitle": "Head of Marketing",
        "numemployees": "100-500",
        "industry": "Software",
        "country": "Germany",
        "hs_analytics_source": "ORGANIC_SEARCH",
        "hs_analytics_num_page_views": "25",
        "hs_analytics_num_visits": "6",
        "num_conversion_events": "2",
        "hs_email_open": "8",
        "hs_email_click": "3",
        "hs_analytics_last_visit_timestamp": (clock.now - timedelta(days=1)).isoformat(),
    }
    record.update(overrides)
    return record


@dataclass
class World:
    crm: FakeCrm
    queue: SqliteWorkQueue
    state: SqliteStateStore
    clock: Clock
    pipeline: Pipeline

    def contact(self, record_id: str, **overrides: Any) -> RecordRef:
        return self.crm.add(hubspot_contact(record_id, self.clock, **overrides), record_id=record_id)

    def event(self, ref: RecordRef, event_id: str, kind: EventKind = EventKind.RESCORE) -> ChangeEvent:
        return ChangeEvent(event_id, ref, kind, occurred_at=self.clock.now, changed_fields=("jobtitle",))

    def field(self, ref: RecordRef, key: str) -> Any:
        name = self.pipeline.crms["hubspot"].normalizer.mapping.output_field(key)
        assert name is not None
        return self.crm.records[ref].get(name)


def make_world(tmp_path: Path, client: CrmClient | None = None, mappings: Path | None = None, **settings: Any) -> World:
    mapping = load_mapping("hubspot", mappings)
    crm = FakeCrm(crm="hubspot", own_fields=mapping.own_fields)
    clock = Clock()
    db = Database(tmp_path / "leadtherm.db", clock=lambda: clock.now.timestamp())  # one clock for all
    queue, state = SqliteWorkQueue(db), SqliteStateStore(db)
    retry = replace(POLICY, queue_delay=0.0, queue_attempts=3, **settings.pop("retry", {}))
    binding = CrmBinding(client or crm, Normalizer(mapping))
    pipeline = Pipeline(
        {"hubspot": binding}, load_rules(mappings), queue, state, PipelineSettings(retry=retry, **settings), clock
    )
    return World(crm, queue, state, clock, pipeline)
