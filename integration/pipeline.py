"""The service layer: lease events, fetch in batches, decide, write what changed, settle the queue.

Events are deduplicated by the CRM's id, echoes of our own writes dropped, events for
one record coalesced into one fetch, and every outcome settled exactly once: acked,
released for a retry, or dead-lettered with the reason a person needs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from functools import cached_property

from integration.decisions import Decision, Forget, Reject, Unchanged, Write, decide
from integration.errors import CrmError, RetriableCrmError
from integration.normalize import Normalizer
from integration.ports import (
    AuditEntry,
    ChangeEvent,
    CrmClient,
    EventKind,
    FieldWrite,
    QueueItem,
    RawRecord,
    RecordRef,
    StateStore,
    StoredAssessment,
    WorkQueue,
    WriteStatus,
)
from integration.rules_provider import RulesSource
from mappings.schema import ScoringRules

log = logging.getLogger("leadtherm.pipeline")


@dataclass(frozen=True)
class CrmBinding:
    """One connected CRM: its client and its compiled mapping."""

    client: CrmClient
    normalizer: Normalizer

    @cached_property
    def read_fields(self) -> frozenset[str]:
        """Fields whose change can alter an assessment (the outputs themselves excluded)."""
        mapping = self.normalizer.mapping
        return frozenset(mapping.read_fields) - mapping.own_fields


@dataclass(frozen=True)
class PipelineSettings:
    lease_size: int = 500  # records per lease (each with all its pending events)
    visibility_timeout: float = 120.0
    max_attempts: int = 8  # leases before an event is dead-lettered
    retry_delay: float = 2.0  # first retry delay; doubles per attempt
    max_retry_delay: float = 600.0
    processed_ttl: timedelta = timedelta(days=7)  # longer than any CRM redelivers


@dataclass
class BatchReport:
    """What one pass did; counts add up across passes."""

    events: int = 0
    duplicates: int = 0
    echoes: int = 0
    irrelevant: int = 0
    records: int = 0
    written: int = 0
    fields_written: int = 0
    unchanged: int = 0
    forgotten: int = 0
    retried: int = 0
    dead_lettered: int = 0
    written_refs: list[RecordRef] = field(default_factory=list, repr=False)

    def add(self, other: BatchReport) -> None:
        for f in fields(self):
            if f.name != "written_refs":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.written_refs.extend(other.written_refs)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    retriable: bool
    retry_after: float | None = None


def _chunks(items: Sequence[RecordRef], size: int) -> Iterable[Sequence[RecordRef]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Pipeline:
    def __init__(
        self,
        crms: Mapping[str, CrmBinding],
        rules: ScoringRules | RulesSource,
        queue: WorkQueue,
        state: StateStore,
        settings: PipelineSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.crms = dict(crms)
        self._rules = rules
        self.queue = queue
        self.state = state
        self.settings = settings or PipelineSettings()
        self.clock = clock

    @property
    def rules(self) -> ScoringRules:
        """The rules in force: fixed, or the latest applied version (hot reload, read once per batch)."""
        return self._rules if isinstance(self._rules, ScoringRules) else self._rules.current()

    @rules.setter
    def rules(self, rules: ScoringRules | RulesSource) -> None:
        self._rules = rules

    # ------------------------------------------------------------------ queue side

    def run_once(self) -> BatchReport:
        """Lease one batch and process it; an empty report when the queue is idle."""
        items = self.queue.lease(self.settings.lease_size, self.settings.visibility_timeout)
        return self.process(items) if items else BatchReport()

    def process(self, items: Sequence[QueueItem]) -> BatchReport:
        report = BatchReport(events=len(items))
        done: list[QueueItem] = []
        targets: dict[RecordRef, list[QueueItem]] = defaultdict(list)
        related: list[QueueItem] = []
        deferred: list[QueueItem] = []  # could not even be classified; retried later
        failed: dict[int, Failure] = {}
        for item in self._drop_duplicates(items, report):
            event = item.event
            binding = self.crms.get(event.ref.crm)
            try:
                own = binding is not None and binding.client.is_own_write(event)
            except CrmError as exc:  # telling our own writes apart may need the CRM (who am I?)
                failed[id(item)] = _failure(exc)
                deferred.append(item)
                continue
            if binding is None:
                self._dead_letter([item], f"no CRM adapter configured for {event.ref.crm!r}", report)
            elif own:
                report.echoes += 1
                done.append(item)
            elif not _relevant(event, binding):
                report.irrelevant += 1
                done.append(item)
            elif event.ref.object_type in binding.normalizer.mapping.objects:
                targets[event.ref].append(item)
            elif event.kind is EventKind.RESCORE:
                related.append(item)
            else:
                done.append(item)  # a related object was deleted: its links are gone with it
        failed.update(self._resolve_related(related, targets))
        for ref in [r for r, group in targets.items() if _latest(group).event.kind is EventKind.FORGET]:
            self._forget(ref, "deleted in the CRM", targets.pop(ref), report)
        outcomes = self._fetch_and_apply(list(targets), report)
        for ref, group in targets.items():
            if ref in outcomes:
                failed.update((id(item), outcomes[ref]) for item in group)
        settled: set[int] = set()
        succeeded: list[QueueItem] = []
        for group in [*targets.values(), related, deferred, done]:
            for item in group:
                if id(item) in settled:
                    continue  # a deal's event is settled once, however many contacts it named
                settled.add(id(item))
                failure = failed.get(id(item))
                if failure is None:
                    succeeded.append(item)
                else:
                    self._fail([item], failure, report)
        if succeeded:
            self._settle_ok(succeeded)  # one transaction for the batch, not one per event
        return report

    def _resolve_related(self, items: list[QueueItem], targets: dict[RecordRef, list[QueueItem]]) -> dict[int, Failure]:
        """Add the records that changed related objects (deals) concern; the items that failed."""
        failed: dict[int, Failure] = {}
        by_crm: dict[str, list[QueueItem]] = defaultdict(list)
        for item in items:
            by_crm[item.event.ref.crm].append(item)
        for crm, crm_items in by_crm.items():
            client = self.crms[crm].client
            refs = sorted({i.event.ref for i in crm_items})
            try:
                links = client.related(refs)
            except CrmError as exc:
                failed.update((id(i), _failure(exc)) for i in crm_items)
                continue
            for item in crm_items:
                for ref in links.get(item.event.ref, []):
                    targets[ref].append(item)
        return failed

    def _drop_duplicates(self, items: Sequence[QueueItem], report: BatchReport) -> list[QueueItem]:
        unseen = self.state.unprocessed([i.event.event_id for i in items])
        fresh: list[QueueItem] = []
        duplicates: list[QueueItem] = []
        for item in items:
            if item.event.event_id in unseen:
                unseen.discard(item.event.event_id)
                fresh.append(item)
            else:
                duplicates.append(item)
        if duplicates:
            report.duplicates += len(duplicates)
            self.queue.ack(duplicates)
        return fresh

    def _settle_ok(self, items: Sequence[QueueItem]) -> None:
        expires = self.clock() + self.settings.processed_ttl
        self.state.mark_processed([i.event.event_id for i in items], expires)
        self.queue.ack(items)

    def _fail(self, items: Sequence[QueueItem], failure: Failure, report: BatchReport) -> None:
        attempts = max(i.attempts for i in items)
        if failure.retriable and attempts < self.settings.max_attempts:
            backoff = self.settings.retry_delay * 2 ** max(0, attempts - 1)
            delay = min(self.settings.max_retry_delay, max(backoff, failure.retry_after or 0.0))
            report.retried += len(items)
            self.queue.release(items, delay)
            return
        reason = failure.reason if not failure.retriable else f"gave up after {attempts} attempts: {failure.reason}"
        self._dead_letter(items, reason, report)

    def _dead_letter(self, items: Sequence[QueueItem], reason: str, report: BatchReport) -> None:
        report.dead_lettered += len(items)
        self.queue.dead_letter(items, reason)
        now = self.clock()
        self.state.append_audit(
            [AuditEntry(i.event.ref, now, "dead-letter", reasons=[reason], event_ids=[i.event.event_id]) for i in items]
        )
        log.warning("dead-lettered %d event(s) for %s: %s", len(items), items[0].event.ref, reason)

    def _forget(self, ref: RecordRef, why: str, items: Sequence[QueueItem], report: BatchReport) -> None:
        self.state.forget(ref)
        self.state.append_audit(
            [
                AuditEntry(
                    ref,
                    self.clock(),
                    "forget",
                    reasons=[why],
                    event_ids=[i.event.event_id for i in items],
                )
            ]
        )
        report.forgotten += 1
        self._settle_ok(items)

    # ------------------------------------------------------------------ CRM side

    def _fetch_and_apply(self, refs: list[RecordRef], report: BatchReport) -> dict[RecordRef, Failure]:
        """Fetch and assess every ref; the failures, by ref (absent: done)."""
        failures: dict[RecordRef, Failure] = {}
        by_crm: dict[str, list[RecordRef]] = defaultdict(list)
        for ref in refs:
            by_crm[ref.crm].append(ref)
        for crm, crm_refs in by_crm.items():
            client = self.crms[crm].client
            for chunk in _chunks(sorted(crm_refs), client.read_batch_size):
                try:
                    fetched = client.fetch(chunk)
                except CrmError as exc:
                    failures.update(dict.fromkeys(chunk, _failure(exc)))
                    continue
                records: dict[RecordRef, RawRecord | None] = dict.fromkeys(fetched.missing)
                records.update(fetched.records)
                failures.update(self.apply(records, report))
        return failures

    def apply(self, records: Mapping[RecordRef, RawRecord | None], report: BatchReport) -> dict[RecordRef, Failure]:
        """Assess fetched records (None: deleted) and write what changed; the failures, by ref."""
        now = self.clock()
        rules = self.rules  # one version for the whole batch, even if a new one is applied meanwhile
        before = self.state.load(list(records))
        decisions: list[Decision] = []
        for ref, record in records.items():
            binding = self.crms[ref.crm]
            decisions.append(decide(ref, record, binding.normalizer, rules, before.get(ref), now))
        report.records += len(decisions)
        failures: dict[RecordRef, Failure] = {}
        writes: dict[str, list[Write]] = defaultdict(list)
        unchanged: dict[RecordRef, StoredAssessment] = {}
        for decision in decisions:
            if isinstance(decision, Write):
                writes[decision.ref.crm].append(decision)
            elif isinstance(decision, Unchanged):
                report.unchanged += 1
                unchanged[decision.ref] = decision.state
            elif isinstance(decision, Forget):
                self.state.forget(decision.ref)
                self.state.append_audit([AuditEntry(decision.ref, now, "forget", reasons=[decision.reason])])
                report.forgotten += 1
            elif isinstance(decision, Reject):
                failures[decision.ref] = Failure(decision.reason, retriable=False)
        if unchanged:
            self.state.save_many(unchanged)
        for crm, crm_writes in writes.items():
            failures.update(self._write(self.crms[crm].client, crm_writes, report, now))
        return failures

    def _write(
        self, client: CrmClient, writes: list[Write], report: BatchReport, now: datetime
    ) -> dict[RecordRef, Failure]:
        failures: dict[RecordRef, Failure] = {}
        size = client.write_batch_size
        for start in range(0, len(writes), size):
            chunk = writes[start : start + size]
            try:
                results = client.write([FieldWrite(w.ref, w.values) for w in chunk])
            except CrmError as exc:
                failures.update(dict.fromkeys((w.ref for w in chunk), _failure(exc)))
                continue
            audit: list[AuditEntry] = []
            saved: dict[RecordRef, StoredAssessment] = {}
            for write, result in zip(chunk, results, strict=True):
                if result.status is WriteStatus.OK:
                    saved[write.ref] = write.state
                    audit.append(AuditEntry(write.ref, now, "write", write.changes, _reasons(write)))
                    report.written += 1
                    report.fields_written += len(write.values)
                    report.written_refs.append(write.ref)
                elif result.status is WriteStatus.MISSING:
                    self.state.forget(write.ref)
                    audit.append(AuditEntry(write.ref, now, "forget", reasons=[result.reason]))
                    report.forgotten += 1
                else:
                    retriable = result.status is WriteStatus.RETRY
                    failures[write.ref] = Failure(f"write failed: {result.reason}", retriable)
            self.state.save_many(saved)
            self.state.append_audit(audit)
        return failures


def _relevant(event: ChangeEvent, binding: CrmBinding) -> bool:
    """False when the CRM says which fields changed and leadtherm reads none of them."""
    if not event.changed_fields or event.ref.object_type not in binding.normalizer.mapping.objects:
        return True
    return not binding.read_fields.isdisjoint(event.changed_fields)


def _latest(items: Sequence[QueueItem]) -> QueueItem:
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(items, key=lambda i: i.event.occurred_at or epoch)


def _failure(exc: CrmError) -> Failure:
    if isinstance(exc, RetriableCrmError):
        return Failure(str(exc), retriable=True, retry_after=exc.retry_after)
    return Failure(f"{type(exc).__name__}: {exc}", retriable=False)


def _reasons(write: Write) -> list[str]:
    return [f"{axis}: {label} ({points:+.0f})" for axis, label, points in write.state.reasons]


__all__ = ["BatchReport", "CrmBinding", "Pipeline", "PipelineSettings"]
