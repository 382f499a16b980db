"""The service layer: lease events, fetch in batches, decide, write what changed, settle the queue.

Events are deduplicated by the CRM's id, echoes of our own writes dropped, events for
one record coalesced into one fetch, and every outcome settled exactly once: acked,
released for a retry, deferred while their CRM is paused, or dead-lettered with the
reason a person needs. A pass commits its state, audit and settlement together.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cached_property

from integration.domain.decisions import Decision, Forget, Reject, Unchanged, Write, decide_safely
from integration.domain.normalize import Normalizer
from integration.errors import CrmError, CrmWideError, OutputFieldsMissing, RetriableCrmError
from integration.ports import (
    AuditEntry,
    ChangeEvent,
    CrmClient,
    EventKind,
    FieldWrite,
    QueueItem,
    RawRecord,
    RecordRef,
    Settlement,
    StateStore,
    WorkQueue,
    WriteStatus,
)
from integration.ports.metric_names import (
    EVENTS_DEAD_LETTERED,
    PASS_SECONDS,
    RECORDS_ASSESSED,
    RECORDS_UNCHANGED,
    RECORDS_WRITTEN,
)
from integration.ports.metrics import metrics
from integration.service.companies import CompanyStep, PassPeople
from integration.service.pause import CrmPauses
from integration.service.retry import POLICY, RetryPolicy
from integration.service.rules_provider import RulesSource
from mappings.schema import ScoreDefinition, ScoringRules

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
    visibility_timeout: float = 120.0  # the lease: a pass never outlives it (see RetryPolicy)
    retry: RetryPolicy = POLICY
    processed_ttl: timedelta = timedelta(days=7)  # longer than any CRM redelivers

    def __post_init__(self) -> None:
        self.retry.check_fits(self.visibility_timeout, "visibility timeout")


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
    deferred: int = 0
    dead_lettered: int = 0
    recovered: int = 0  # writes found in the CRM that an interrupted pass had not recorded
    written_refs: list[RecordRef] = field(default_factory=list, repr=False)
    paused: dict[str, str] = field(default_factory=dict)  # CRM -> why, when a CRM-wide failure stopped it

    def add(self, other: BatchReport) -> None:
        for f in fields(self):
            if f.name not in ("written_refs", "paused"):
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.written_refs.extend(other.written_refs)
        self.paused.update(other.paused)

    @property
    def failed(self) -> int:
        """Events not done by this pass: retried later, deferred while paused, or dead-lettered."""
        return self.retried + self.deferred + self.dead_lettered


class Outcome(Enum):
    RETRY = "retry"  # transient: back to the queue with a backoff, an attempt spent
    PERMANENT = "permanent"  # dead-letter now
    PAUSE = "pause"  # the whole CRM is down for us: keep the event, spend no attempt
    LATER = "later"  # the pass ran out of time before reaching it: keep it, spend no attempt


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    outcome: Outcome
    retry_after: float | None = None


def _failure(exc: CrmError) -> Failure:
    if isinstance(exc, CrmWideError):
        return Failure(str(exc), Outcome.PAUSE)
    if isinstance(exc, RetriableCrmError):
        return Failure(str(exc), Outcome.RETRY, exc.retry_after)
    return Failure(f"{type(exc).__name__}: {exc}", Outcome.PERMANENT)


RECOVERED = "found in the CRM, not in the stored state: a write whose pass was interrupted (or an edit by hand)"
OUT_OF_TIME = Failure("the pass ran out of time before this record", Outcome.LATER)


class _Pass:
    """One pass: its deadline, which CRMs it may call, and what it will commit."""

    def __init__(self, pipeline: Pipeline, budget: float | None) -> None:
        settings = pipeline.settings
        self.pipeline = pipeline
        self.deadline = time.monotonic() + (
            settings.retry.pass_budget(settings.visibility_timeout) if budget is None else budget
        )
        self.report = BatchReport()
        self.batch = Settlement(processed_until=pipeline.clock() + settings.processed_ttl)
        self.admitted: dict[str, bool] = {}
        self.reached: set[str] = set()  # CRMs that answered at least one call
        self.crm_wide: dict[str, str] = {}  # CRMs that failed as a whole in this pass
        self.people = PassPeople()  # for the company step: records fetched, assessments changed

    def may_call(self, crm: str) -> Failure | None:
        """None when a call to `crm` may start now; else why not (paused, or no time for its worst case)."""
        if crm not in self.admitted:  # asked once per pass: a due probe admits this pass only
            self.admitted[crm] = self.pipeline.pauses.admit(crm)
        if not self.admitted[crm]:
            return Failure(self.pipeline.pauses.reason(crm) or "paused", Outcome.PAUSE)
        if crm in self.crm_wide:
            return Failure(self.crm_wide[crm], Outcome.PAUSE)
        if time.monotonic() + self.pipeline.settings.retry.call_worst_case() > self.deadline:
            return OUT_OF_TIME
        return None

    def failed(self, crm: str, exc: CrmError) -> Failure:
        failure = _failure(exc)
        if failure.outcome is Outcome.PAUSE:
            self.crm_wide[crm] = failure.reason
            self.pipeline.pauses.pause(crm, failure.reason)
        return failure

    def finish(self) -> None:
        """Resume the CRMs this pass reached without a CRM-wide failure (it was their probe)."""
        for crm in self.reached - set(self.crm_wide):
            self.pipeline.pauses.resume(crm)
        self.report.paused.update(self.crm_wide)


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
        pauses: CrmPauses | None = None,
        scores: Sequence[ScoreDefinition] = (),
    ) -> None:
        self.crms = dict(crms)
        self._rules = rules
        self.scores = tuple(scores)  # the named scores, assessed in the same pass as the default one
        self.queue = queue
        self.state = state
        self.settings = settings or PipelineSettings()
        self.clock = clock
        # Shared by every pipeline over the same CRMs (the Lambda builds one per batch).
        self.pauses = pauses or CrmPauses(self.settings.retry.probe_every, record=state)
        self.companies: CompanyStep | None = None  # company / account scores, when a mapping has `company:`

    def health(self) -> str | None:
        """For /healthz (`AppConfig.health_checks`): why a CRM is paused, or None."""
        return self.pauses.health()

    def check_outputs(self, crms: Sequence[str] | None = None) -> None:
        """Raise OutputFieldsMissing ("run leadtherm setup <crm>") unless every output field exists."""
        for crm in crms or list(self.crms):
            missing = self.crms[crm].client.missing_outputs()
            if missing:
                raise OutputFieldsMissing(crm, missing)

    @property
    def rules(self) -> ScoringRules:
        """The rules in force: fixed, or the latest applied version (hot reload, read once per batch)."""
        return self._rules if isinstance(self._rules, ScoringRules) else self._rules.current()

    @rules.setter
    def rules(self, rules: ScoringRules | RulesSource) -> None:
        self._rules = rules

    def _versions(self) -> tuple[ScoringRules, tuple[ScoreDefinition, ...]]:
        """The rules and the named scores in force, of one version: a source that reloads both gives both."""
        snapshot = getattr(self._rules, "snapshot", None)
        if snapshot is not None and self.scores:
            found: tuple[ScoringRules, tuple[ScoreDefinition, ...]] = snapshot()
            return found
        return self.rules, self.scores

    # ------------------------------------------------------------------ queue side

    def run_once(self) -> BatchReport:
        """Lease one batch and process it; an empty report when the queue is idle."""
        items = self.queue.lease(self.lease_size(), self.settings.visibility_timeout)
        return self.process(items) if items else BatchReport()

    def lease_size(self) -> int:
        """The settings' lease in whole batches: rounded down to a multiple of every CRM's read and write batch.

        Leased 500 at a time, 1,000 changes to Salesforce records are read and written in chunks of
        200, 200 and 100 twice: 6 calls each way where 5 do. Leased 400 at a time, 5. A lease smaller
        than one such multiple stays as it is.
        """
        size = self.settings.lease_size
        batches = (n for b in self.crms.values() for n in (b.client.read_batch_size, b.client.write_batch_size))
        step = math.lcm(*batches)
        return size - size % step if step <= size else size

    def process(self, items: Sequence[QueueItem], budget: float | None = None) -> BatchReport:
        """Process leased items and commit the outcome at once; `budget`: seconds left (default: the lease's)."""
        run = _Pass(self, budget)
        started = time.monotonic()
        report, batch = run.report, run.batch
        report.events = len(items)
        done: list[QueueItem] = []
        targets: dict[RecordRef, list[QueueItem]] = defaultdict(list)
        related: list[QueueItem] = []
        companies: dict[RecordRef, list[QueueItem]] = defaultdict(list)
        deferred: list[QueueItem] = []  # could not even be classified; retried later
        failed: dict[int, Failure] = {}
        for item in self._drop_duplicates(items, report, batch):
            event = item.event
            binding = self.crms.get(event.ref.crm)
            if binding is None:
                failed[id(item)] = Failure(f"no CRM adapter configured for {event.ref.crm!r}", Outcome.PERMANENT)
                deferred.append(item)
                continue
            try:
                own = binding.client.is_own_write(event)
            except CrmError as exc:  # telling our own writes apart may need the CRM (who am I?)
                failed[id(item)] = run.failed(event.ref.crm, exc)
                deferred.append(item)
                continue
            if own or (self.companies is not None and self.companies.is_echo(event)):
                report.echoes += 1
                done.append(item)
            elif self.companies is not None and self.companies.owns(event.ref):
                if self.companies.relevant(event):
                    companies[event.ref].append(item)
                else:
                    report.irrelevant += 1
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
        failed.update(self._resolve_related(related, targets, run))
        if self.companies is not None:  # moved between companies: both re-score, however the person's score moved
            moved = (ref for ref, group in targets.items() if any(self.companies.relinks(i.event) for i in group))
            run.people.relinked.update(moved)
        for ref in [r for r, group in targets.items() if _latest(group).event.kind is EventKind.FORGET]:
            self._forget(ref, "deleted in the CRM", targets.pop(ref), run)
        outcomes = self._fetch_and_apply(list(targets), run)
        for ref, group in targets.items():
            if ref in outcomes:
                failed.update((id(item), outcomes[ref]) for item in group)
        if self.companies is not None:  # after the people: their new assessments roll up
            more_waiting = len(items) >= self.lease_size()
            failed.update(self.companies.process(self, run, companies, run.people, more_waiting))
        settled: set[int] = set()
        for group in [*targets.values(), *companies.values(), related, deferred, done]:
            for item in group:
                if id(item) in settled:
                    continue  # a deal's event is settled once, however many contacts it named
                settled.add(id(item))
                failure = failed.get(id(item))
                if failure is None:
                    batch.processed.append(item.event.event_id)
                    batch.acked.append(item)
                else:
                    self._fail([item], failure, run)
        self.queue.settle(batch, self.state)  # one commit for the pass, not one per event
        run.finish()
        metrics().observe(PASS_SECONDS, time.monotonic() - started)
        for crm_items, reason in batch.dead:
            ref = crm_items[0].event.ref
            log.warning("dead-lettered %d event(s) for %s: %s", len(crm_items), ref, reason, extra={"record": str(ref)})
        return report

    def _resolve_related(
        self, items: list[QueueItem], targets: dict[RecordRef, list[QueueItem]], run: _Pass
    ) -> dict[int, Failure]:
        """Add the records that changed related objects (deals) concern; the items that failed."""
        failed: dict[int, Failure] = {}
        by_crm: dict[str, list[QueueItem]] = defaultdict(list)
        for item in items:
            by_crm[item.event.ref.crm].append(item)
        for crm, crm_items in by_crm.items():
            client = self.crms[crm].client
            refs = sorted({i.event.ref for i in crm_items})
            blocked = run.may_call(crm)
            if blocked is not None:
                failed.update((id(i), blocked) for i in crm_items)
                continue
            try:
                links = client.related(refs)
            except CrmError as exc:
                failure = run.failed(crm, exc)
                failed.update((id(i), failure) for i in crm_items)
                continue
            run.reached.add(crm)
            for item in crm_items:
                for ref in links.get(item.event.ref, []):
                    targets[ref].append(item)
        return failed

    def _drop_duplicates(self, items: Sequence[QueueItem], report: BatchReport, batch: Settlement) -> list[QueueItem]:
        unseen = self.state.unprocessed([i.event.event_id for i in items])
        fresh: list[QueueItem] = []
        for item in items:
            if item.event.event_id in unseen:
                unseen.discard(item.event.event_id)
                fresh.append(item)
            else:
                report.duplicates += 1
                batch.acked.append(item)
        return fresh

    def _fail(self, items: list[QueueItem], failure: Failure, run: _Pass) -> None:
        report, batch, policy = run.report, run.batch, self.settings.retry
        if failure.outcome is Outcome.PAUSE:
            report.deferred += len(items)
            batch.deferred.append((items, self.pauses.probe_every))  # back when the next probe is due
            return
        if failure.outcome is Outcome.LATER:
            report.deferred += len(items)
            batch.deferred.append((items, 0.0))
            return
        attempts = max(i.attempts for i in items)
        if failure.outcome is Outcome.RETRY and attempts < policy.queue_attempts:
            report.retried += len(items)
            batch.released.append((items, policy.queue_backoff(attempts, failure.retry_after)))
            return
        reason = failure.reason
        if failure.outcome is Outcome.RETRY:
            reason = f"gave up after {attempts} attempts: {reason}"
        report.dead_lettered += len(items)
        metrics().count(EVENTS_DEAD_LETTERED, len(items), crm=items[0].event.ref.crm)
        batch.dead.append((items, reason))
        now = self.clock()
        batch.audit.extend(
            AuditEntry(i.event.ref, now, "dead-letter", reasons=[reason], event_ids=[i.event.event_id]) for i in items
        )

    def _forget(self, ref: RecordRef, why: str, items: Sequence[QueueItem], run: _Pass) -> None:
        run.batch.forget(ref)
        run.batch.audit.append(
            AuditEntry(ref, self.clock(), "forget", reasons=[why], event_ids=[i.event.event_id for i in items])
        )
        run.report.forgotten += 1
        run.batch.processed.extend(i.event.event_id for i in items)
        run.batch.acked.extend(items)

    # ------------------------------------------------------------------ CRM side

    def _fetch_and_apply(self, refs: list[RecordRef], run: _Pass) -> dict[RecordRef, Failure]:
        """Fetch and assess every ref; the failures, by ref (absent: done)."""
        failures: dict[RecordRef, Failure] = {}
        by_crm: dict[str, list[RecordRef]] = defaultdict(list)
        for ref in refs:
            by_crm[ref.crm].append(ref)
        now = self.clock()
        for crm, crm_refs in by_crm.items():
            client = self.crms[crm].client
            # The changes of every read chunk are pooled: one write per write batch size, not one per read chunk.
            writes: list[Write] = []
            for chunk in _chunks(sorted(crm_refs), client.read_batch_size):
                blocked = run.may_call(crm)
                if blocked is not None:
                    failures.update(dict.fromkeys(chunk, blocked))
                    continue
                try:
                    fetched = client.fetch(chunk)
                except CrmError as exc:
                    failures.update(dict.fromkeys(chunk, run.failed(crm, exc)))
                    continue
                run.reached.add(crm)
                records: dict[RecordRef, RawRecord | None] = dict.fromkeys(fetched.missing)
                records.update(fetched.records)
                failures.update(self._assess(records, run, now, writes))
            if writes:
                failures.update(self._write(crm, writes, run, now))
        return failures

    def apply(
        self, records: Mapping[RecordRef, RawRecord | None], report: BatchReport, batch: Settlement
    ) -> dict[RecordRef, Failure]:
        """Assess fetched records (None: deleted) and write what changed, into `batch`; the failures, by ref.

        The caller commits `batch` (backfill does, with its cursor); nothing is stored before that.
        """
        run = _Pass(self, math.inf)  # a backfill page has no lease to outlive
        run.report, run.batch = report, batch
        failures = self._apply(records, run)
        if self.companies is not None:  # a backfill's pages meet the same companies again: queue each once
            self.companies.process(self, run, {}, run.people, more_waiting=True)
        run.finish()
        return failures

    def _apply(self, records: Mapping[RecordRef, RawRecord | None], run: _Pass) -> dict[RecordRef, Failure]:
        now = self.clock()
        writes: list[Write] = []
        failures = self._assess(records, run, now, writes)
        by_crm: dict[str, list[Write]] = defaultdict(list)
        for write in writes:
            by_crm[write.ref.crm].append(write)
        for crm, crm_writes in by_crm.items():
            failures.update(self._write(crm, crm_writes, run, now))
        return failures

    def _assess(
        self, records: Mapping[RecordRef, RawRecord | None], run: _Pass, now: datetime, writes: list[Write]
    ) -> dict[RecordRef, Failure]:
        """Decide every record, settle what needs no write into the pass; add the writes to `writes`."""
        report, batch = run.report, run.batch
        rules, scores = self._versions()  # one version for the whole batch, even if a new one is applied meanwhile
        before = self.state.load(list(records))
        decisions: list[Decision] = []
        follow = self.companies is not None
        for ref, record in records.items():
            binding = self.crms[ref.crm]
            decision = decide_safely(ref, record, binding.normalizer, rules, before.get(ref), now, scores)
            if follow and record is not None:
                run.people.records[ref] = record
                if isinstance(decision, Write | Unchanged):
                    run.people.assessed[ref] = decision.state
                if isinstance(decision, Write):
                    run.people.changed.add(ref)
            if isinstance(decision, Reject) and decision.unexpected:
                log.error("cannot assess %s: %s", ref, decision.reason)
            elif isinstance(decision, Write | Unchanged) and decision.state.unmapped:
                # Field names only: the value may be personal data.
                fields = ", ".join(decision.state.unmapped)
                log.warning("%s: %s held a value its map does not list (read as the default)", ref, fields)
            decisions.append(decision)
            metrics().count(RECORDS_ASSESSED, crm=ref.crm)
        report.records += len(decisions)
        failures: dict[RecordRef, Failure] = {}
        for decision in decisions:
            if isinstance(decision, Write | Unchanged) and decision.recovered:
                # The CRM holds values of a write whose pass died before its commit: audit it now.
                report.recovered += 1
                batch.audit.append(AuditEntry(decision.ref, now, "write", decision.recovered, [RECOVERED]))
            if isinstance(decision, Write):
                writes.append(decision)
            elif isinstance(decision, Unchanged):
                report.unchanged += 1
                metrics().count(RECORDS_UNCHANGED, crm=decision.ref.crm)
                batch.save(decision.ref, decision.state)
            elif isinstance(decision, Forget):
                batch.forget(decision.ref)
                batch.audit.append(AuditEntry(decision.ref, now, "forget", reasons=[decision.reason]))
                report.forgotten += 1
            elif isinstance(decision, Reject):
                failures[decision.ref] = Failure(decision.reason, Outcome.PERMANENT)
        return failures

    def _write(self, crm: str, writes: list[Write], run: _Pass, now: datetime) -> dict[RecordRef, Failure]:
        client = self.crms[crm].client
        report, batch = run.report, run.batch
        failures: dict[RecordRef, Failure] = {}
        size = client.write_batch_size
        for start in range(0, len(writes), size):
            chunk = writes[start : start + size]
            blocked = run.may_call(crm)
            if blocked is not None:
                failures.update(dict.fromkeys((w.ref for w in chunk), blocked))
                continue
            try:
                results = client.write([FieldWrite(w.ref, w.values) for w in chunk])
            except CrmError as exc:
                failure = run.failed(crm, exc)
                failures.update(dict.fromkeys((w.ref for w in chunk), failure))
                continue
            run.reached.add(crm)
            for write, result in zip(chunk, results, strict=True):
                if result.status is WriteStatus.OK:
                    batch.save(write.ref, write.state)
                    batch.audit.append(AuditEntry(write.ref, now, "write", write.changes, _reasons(write)))
                    report.written += 1
                    metrics().count(RECORDS_WRITTEN, crm=crm)
                    report.fields_written += len(write.values)
                    report.written_refs.append(write.ref)
                elif result.status is WriteStatus.MISSING:
                    batch.forget(write.ref)
                    batch.audit.append(AuditEntry(write.ref, now, "forget", reasons=[result.reason]))
                    report.forgotten += 1
                else:
                    outcome = Outcome.RETRY if result.status is WriteStatus.RETRY else Outcome.PERMANENT
                    failures[write.ref] = Failure(f"write failed: {result.reason}", outcome)
        return failures


def _relevant(event: ChangeEvent, binding: CrmBinding) -> bool:
    """False when the CRM says which fields changed and leadtherm reads none of them."""
    if not event.changed_fields or event.ref.object_type not in binding.normalizer.mapping.objects:
        return True
    return not binding.read_fields.isdisjoint(event.changed_fields)


def _latest(items: Sequence[QueueItem]) -> QueueItem:
    epoch = datetime.min.replace(tzinfo=UTC)
    return max(items, key=lambda i: i.event.occurred_at or epoch)


def _reasons(write: Write) -> list[str]:
    return [f"{axis}: {label} ({points:+.0f})" for axis, label, points in write.state.reasons]


__all__ = ["BatchReport", "CrmBinding", "Failure", "Outcome", "Pipeline", "PipelineSettings"]
