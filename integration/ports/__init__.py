"""The ports: small protocols the core needs, implemented by adapters and backends.

Values that cross a port are plain frozen dataclasses, JSON-serialisable, so a
queue can carry them between processes (SQLite rows, SQS messages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

# A CRM record as its API returns it, flattened to field name -> raw value.
RawRecord = Mapping[str, Any]


@dataclass(frozen=True, slots=True, order=True)
class RecordRef:
    """Which record, in which CRM: the unit of coalescing, fetching and writing."""

    crm: str
    object_type: str
    record_id: str

    def __str__(self) -> str:
        return f"{self.crm}:{self.object_type}:{self.record_id}"

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        crm, object_type, record_id = text.split(":", 2)
        return cls(crm, object_type, record_id)


class EventKind(StrEnum):
    RESCORE = "rescore"  # the record (or something it depends on) changed
    FORGET = "forget"  # the record was deleted: drop what we hold about it


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change notification, reduced to what the pipeline needs."""

    event_id: str  # the CRM's own id (HubSpot eventId, Salesforce notification Id)
    ref: RecordRef
    kind: EventKind = EventKind.RESCORE
    occurred_at: datetime | None = None
    # CRM field names the change touched, when the CRM says (used to spot our own echoes)
    changed_fields: tuple[str, ...] = ()
    # who made the change, in the CRM's own terms (HubSpot sourceId, Salesforce user id)
    actor: str | None = None

    def to_json(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies and is the slowest part of an enqueue.
        return {
            "event_id": self.event_id,
            "ref": str(self.ref),
            "kind": self.kind.value,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "changed_fields": list(self.changed_fields),
            "actor": self.actor,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChangeEvent:
        occurred = data.get("occurred_at")
        return cls(
            event_id=str(data["event_id"]),
            ref=RecordRef.parse(str(data["ref"])),
            kind=EventKind(data.get("kind", EventKind.RESCORE)),
            occurred_at=datetime.fromisoformat(occurred) if occurred else None,
            changed_fields=tuple(data.get("changed_fields") or ()),
            actor=data.get("actor"),
        )


@dataclass(frozen=True, slots=True)
class FetchResult:
    """Records found, keyed by ref, and the refs the CRM no longer has."""

    records: Mapping[RecordRef, RawRecord]
    missing: frozenset[RecordRef] = frozenset()


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """Set these CRM fields (already named and formatted for the CRM) on one record."""

    ref: RecordRef
    values: Mapping[str, Any]


class WriteStatus(StrEnum):
    OK = "ok"
    RETRY = "retry"  # transient: try again later
    FAILED = "failed"  # permanent: dead-letter with the reason
    MISSING = "missing"  # the record is gone


@dataclass(frozen=True, slots=True)
class WriteResult:
    ref: RecordRef
    status: WriteStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a full listing, with the cursor that resumes after it (None: last page)."""

    records: list[tuple[RecordRef, RawRecord]]
    next_cursor: str | None


class CrmClient(Protocol):
    """What the pipeline needs from a CRM; one implementation per adapter."""

    crm: str

    @property
    def read_batch_size(self) -> int:
        """At most this many refs per `fetch`."""
        ...

    @property
    def write_batch_size(self) -> int:
        """At most this many writes per `write` (may change with the client's mode)."""
        ...

    def fetch(self, refs: Sequence[RecordRef]) -> FetchResult:
        """Read records by id, at most `read_batch_size` per call."""
        ...

    def write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        """Update records, at most `write_batch_size` per call; one result per write, in order."""
        ...

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        """One page of records of a type after `cursor` (None: the start); one request."""
        ...

    def count(self, object_type: str) -> int | None:
        """How many records of the type exist, if the CRM can say cheaply (for progress bars)."""
        ...

    def is_own_write(self, event: ChangeEvent) -> bool:
        """True when the change was made by leadtherm itself (its echo must not re-trigger)."""
        ...

    def related(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        """For changed related objects (a deal), the assessed records (its contacts) to re-score."""
        ...

    def missing_outputs(self) -> list[str]:
        """The mapped output fields the CRM does not have (empty once `leadtherm setup` ran)."""
        ...


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An event leased from a queue; `receipt` identifies this lease to ack or release it."""

    event: ChangeEvent
    receipt: str
    attempts: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    event: ChangeEvent
    reason: str
    failed_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: int
    oldest_age_seconds: float | None
    dead_letters: int


class WorkQueue(Protocol):
    """A durable, at-least-once queue of change events."""

    def enqueue(self, events: Sequence[ChangeEvent]) -> None:
        """Persist events before returning; the caller acknowledges the CRM only after."""
        ...

    def lease(self, max_items: int, visibility_timeout: float) -> list[QueueItem]:
        """Take up to `max_items`; unacknowledged items come back after the timeout."""
        ...

    def ack(self, items: Sequence[QueueItem]) -> None:
        """Done with these: remove them for good."""
        ...

    def release(self, items: Sequence[QueueItem], delay: float) -> None:
        """Give these back to be retried after `delay` seconds."""
        ...

    def defer(self, items: Sequence[QueueItem], delay: float) -> None:
        """Give these back after `delay` seconds without spending an attempt (their CRM is paused)."""
        ...

    def settle(self, batch: Settlement, state: StateStore) -> None:
        """Commit a pass: state, audit and settlement together (one transaction, or an order safe to replay)."""
        ...

    def dead_letter(self, items: Sequence[QueueItem], reason: str) -> None:
        """Move these to the dead-letter store with the reason a person needs."""
        ...

    def dead_letter_events(self, events: Sequence[ChangeEvent], reason: str) -> None:
        """Dead-letter events that never reached the queue (the CRM sent something that cannot be read)."""
        ...

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]: ...

    def replay(self, ids: Sequence[str] | None = None) -> int:
        """Put dead letters (all when `ids` is None) back on the queue; returns how many."""
        ...

    def stats(self) -> QueueStats: ...


@dataclass(frozen=True, slots=True)
class StoredAssessment:
    """What leadtherm last concluded and wrote for a record."""

    score: int
    fit: int
    engagement: int
    temperature: str
    stage: str
    reasons: list[tuple[str, str, float]]  # (axis, label, points)
    next_action: str
    assessed_at: datetime
    temperature_changed_at: datetime | None = None
    previous_temperature: str | None = None
    next_drop_at: datetime | None = None
    # CRM fields whose value the mapping's `map` did not list (read as the default): names only.
    unmapped: tuple[str, ...] = ()
    # What the console searches by besides the id: the company (an organisation, not a person) and the
    # seniority the title was read as (a category). Never the title itself, e-mails or names.
    company: str | None = None
    seniority: str | None = None
    # Every assessment of the record, newest last (when, score, temperature), whether or not it wrote anything;
    # the last SCORE_HISTORY are kept.
    scores: tuple[tuple[datetime, int, str], ...] = ()


SCORE_HISTORY = 100


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One decision about a record: old -> new values and why. Never e-mails or names."""

    ref: RecordRef
    at: datetime
    action: str  # "write", "skip", "forget", "dead-letter"
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


@dataclass
class Settlement:
    """Everything one pass concluded, committed at once by `WorkQueue.settle`.

    Where the backend has no transaction across queue and state, the order is: audit,
    state, processed ids, cursors, then the queue; replaying it after a crash repeats
    only idempotent steps (the audit keys are deterministic).
    """

    saved: dict[RecordRef, StoredAssessment] = field(default_factory=dict)
    forgotten: list[RecordRef] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    processed_until: datetime | None = None
    cursors: dict[str, str | None] = field(default_factory=dict)
    acked: list[QueueItem] = field(default_factory=list)
    released: list[tuple[list[QueueItem], float]] = field(default_factory=list)
    deferred: list[tuple[list[QueueItem], float]] = field(default_factory=list)
    dead: list[tuple[list[QueueItem], str]] = field(default_factory=list)

    def save(self, ref: RecordRef, state: StoredAssessment) -> None:
        self.saved[ref] = state
        if ref in self.forgotten:
            self.forgotten.remove(ref)

    def forget(self, ref: RecordRef) -> None:
        self.saved.pop(ref, None)
        self.forgotten.append(ref)


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """What the console searches the stored records by; every part given must match (case-insensitive)."""

    text: str = ""  # a part of the record id or of the company
    title: str = ""  # a part of the seniority or of a reason's label ("director", "Decision-maker title")
    temperature: str | None = None

    def matches(self, ref: RecordRef, state: StoredAssessment) -> bool:
        """The match every backend applies (the one that filters in SQL does the same)."""
        text, title = self.text.strip().lower(), self.title.strip().lower()
        if self.temperature and state.temperature != self.temperature:
            return False
        if text and text not in ref.record_id.lower() and text not in (state.company or "").lower():
            return False
        labels = [state.seniority or "", *(label for _, label, _ in state.reasons)]
        return not title or any(title in label.lower() for label in labels)


@dataclass(frozen=True, slots=True)
class StoredPage:
    """One page of stored records in ref order, and the cursor after it (None: the last page)."""

    records: list[tuple[RecordRef, StoredAssessment]]
    next_cursor: str | None


class StateStore(Protocol):
    """Last assessments, processed event ids, the audit log, sweep schedule, cursors, CRM pauses."""

    def load(self, refs: Sequence[RecordRef]) -> dict[RecordRef, StoredAssessment]: ...

    def save(self, ref: RecordRef, state: StoredAssessment) -> None:
        """Store the assessment; its `next_drop_at` schedules the record for `due`."""
        ...

    def save_many(self, states: Mapping[RecordRef, StoredAssessment]) -> None:
        """`save` for many records at once (one transaction where the backend has them)."""
        ...

    def forget(self, ref: RecordRef) -> None: ...

    def due(self, now: datetime, limit: int) -> list[RecordRef]:
        """Records whose next temperature drop is at or before `now`, soonest first."""
        ...

    def unprocessed(self, event_ids: Sequence[str]) -> set[str]:
        """The ids among these not yet processed (dedup of redelivered events)."""
        ...

    def mark_processed(self, event_ids: Sequence[str], expires_at: datetime) -> None: ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    def audit(self, ref: RecordRef, limit: int = 50) -> list[AuditEntry]:
        """Newest first."""
        ...

    def get_cursor(self, name: str) -> str | None:
        """Where a reader of a stream (a backfill, a CDC topic) got to; None before its first save."""
        ...

    def set_cursor(self, name: str, value: str | None) -> None: ...

    def get_pause(self, crm: str) -> str | None:
        """The record of why `crm` is paused (as `set_pause` stored it), or None while it runs."""
        ...

    def set_pause(self, crm: str, record: str | None) -> None:
        """Record that `crm` is paused (for other processes to see), or clear it with None."""
        ...


@runtime_checkable
class RecordSearch(Protocol):
    """A state store that pages through its stored records (the console's records and overview pages)."""

    def search(self, query: RecordQuery, cursor: str | None, limit: int) -> StoredPage:
        """Up to `limit` matching records after `cursor` (None: the start), in ref order; one page in memory."""
        ...


@dataclass(frozen=True)
class Draft:
    """An admin's unapplied edits: their files, and the head version (with its files) they started from.

    The base files are kept so that a merge needs nothing of the store's history. `choices` holds
    the conflicts already decided ("theirs" or "yours", by conflict key) against the head
    `choices_head`; a head that moves again asks anew.
    """

    base_head: int
    base: Mapping[str, str]
    files: Mapping[str, str]
    choices: Mapping[str, str] = field(default_factory=dict)
    choices_head: int = 0


class DraftStore(Protocol):
    """Drafts by author, kept until applied or discarded (through logout, other logins and restarts)."""

    def load_draft(self, author: str) -> Draft | None: ...

    def save_draft(self, author: str, draft: Draft) -> None: ...

    def drop_draft(self, author: str) -> None: ...
