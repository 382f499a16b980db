"""Hand-written fakes of the ports (never mocks): an in-memory CRM behaving like the real ones."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integration.errors import PermanentCrmError, RateLimited, RetriableCrmError
from integration.ports import (
    ChangeEvent,
    FetchResult,
    FieldWrite,
    Page,
    RecordRef,
    WriteResult,
    WriteStatus,
)

OWN_ACTOR = "leadtherm-app"


@dataclass
class FakeCrm:
    """An in-memory CRM speaking the CrmClient port, with the failure modes of the real ones."""

    crm: str = "fake"
    object_type: str = "contact"
    known_fields: set[str] = field(default_factory=set)  # empty: every field exists
    own_fields: frozenset[str] = frozenset()
    read_batch_size: int = 100
    write_batch_size: int = 100
    records: dict[RecordRef, dict[str, Any]] = field(default_factory=dict)
    fetch_calls: list[list[RecordRef]] = field(default_factory=list)
    write_calls: list[list[FieldWrite]] = field(default_factory=list)
    # Exceptions raised by the next requests, in order (a 429, a 5xx...).
    failures: list[Exception] = field(default_factory=list)
    # Related objects (a deal) -> the records they concern (its contacts).
    links: dict[RecordRef, list[RecordRef]] = field(default_factory=dict)
    # Events the CRM would send about changes, including those caused by our writes.
    outbox: list[ChangeEvent] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ref(self, record_id: str) -> RecordRef:
        return RecordRef(self.crm, self.object_type, record_id)

    def add(self, fields: dict[str, Any], record_id: str | None = None) -> RecordRef:
        record_id = record_id or str(next(self._ids))
        ref = self.ref(record_id)
        self.records[ref] = {"id": record_id, **fields}
        return ref

    def change(self, ref: RecordRef, fields: dict[str, Any], actor: str = "user-1") -> ChangeEvent:
        """A person edits the record: the CRM sends a change event."""
        self.records[ref].update(fields)
        return self._emit(ref, tuple(fields), actor)

    def _emit(self, ref: RecordRef, fields: tuple[str, ...], actor: str) -> ChangeEvent:
        event = ChangeEvent(
            f"evt-{next(self._ids)}", ref, occurred_at=datetime.now(UTC), changed_fields=fields, actor=actor
        )
        self.outbox.append(event)
        return event

    def _request(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    # ---------------------------------------------------------------- CrmClient
    def fetch(self, refs: Sequence[RecordRef]) -> FetchResult:
        if len(refs) > self.read_batch_size:
            raise PermanentCrmError(f"batch of {len(refs)} exceeds {self.read_batch_size}")
        with self._lock:
            self.fetch_calls.append(list(refs))
            self._request()
            found = {r: dict(self.records[r]) for r in refs if r in self.records}
        return FetchResult(found, frozenset(r for r in refs if r not in found))

    def write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        if len(writes) > self.write_batch_size:
            raise PermanentCrmError(f"batch of {len(writes)} exceeds {self.write_batch_size}")
        with self._lock:
            self.write_calls.append(list(writes))
            self._request()
            return [self._apply(w) for w in writes]

    def _apply(self, write: FieldWrite) -> WriteResult:
        if write.ref not in self.records:
            return WriteResult(write.ref, WriteStatus.MISSING, "record not found")
        unknown = sorted(set(write.values) - self.known_fields) if self.known_fields else []
        if unknown:
            return WriteResult(write.ref, WriteStatus.FAILED, f"unknown field {unknown[0]}")
        self.records[write.ref].update(write.values)
        self._emit(write.ref, tuple(write.values), OWN_ACTOR)
        return WriteResult(write.ref, WriteStatus.OK)

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        with self._lock:
            self._request()
            refs = sorted((r for r in self.records if r.object_type == object_type), key=lambda r: int(r.record_id))
        start = int(cursor) if cursor else 0
        chunk = refs[start : start + limit]
        after = start + len(chunk)
        return Page([(r, dict(self.records[r])) for r in chunk], str(after) if after < len(refs) else None)

    def count(self, object_type: str) -> int | None:
        return sum(1 for r in self.records if r.object_type == object_type)

    def related(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        with self._lock:
            self._request()
            return {r: list(self.links.get(r, [])) for r in refs}

    def missing_outputs(self) -> list[str]:
        return sorted(self.own_fields - self.known_fields) if self.known_fields else []

    def is_own_write(self, event: ChangeEvent) -> bool:
        if event.actor == OWN_ACTOR:
            return True
        return bool(event.changed_fields) and set(event.changed_fields) <= self.own_fields

    # ---------------------------------------------------------------- failure knobs
    def rate_limit_next(self, retry_after: float | None = 0.01, times: int = 1) -> None:
        self.failures.extend(RateLimited("429 Too Many Requests", retry_after) for _ in range(times))

    def fail_next(self, times: int = 1) -> None:
        self.failures.extend(RetriableCrmError("503 Service Unavailable") for _ in range(times))
