"""The company step of a pass: re-score the companies whose people's assessment changed, or whose own fields did.

Companies are coalesced within a pass (one read, one roll-up and at most one write each), read and
written in the CRM's batch sizes; people already fetched by the pass are not read again. A company is
written only when a mapped output's CRM value differs from the roll-up's. Its assessment is stored like
a contact's, so that the sweep re-queues it when its engaged people's temperature is due to drop.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from integration.domain.company import (
    CompanyAssessment,
    Member,
    assess_company,
    changed_outputs,
    company_outputs,
    read_company,
)
from integration.domain.model import Stage, Temperature
from integration.domain.normalize import Normalizer, to_boolean
from integration.domain.scoring import assess
from integration.errors import CrmError
from integration.ports import (
    AuditEntry,
    ChangeEvent,
    EventKind,
    FetchResult,
    FieldWrite,
    QueueItem,
    RawRecord,
    RecordRef,
    StoredAssessment,
    WriteResult,
    WriteStatus,
)
from integration.ports.companies import CompanyClient
from integration.ports.metric_names import RECORDS_ASSESSED, RECORDS_UNCHANGED, RECORDS_WRITTEN
from integration.ports.metrics import metrics
from integration.service.guard import GuardedClient
from mappings.company import CompanyMapping, CompanyRules
from mappings.schema import ScoringRules

if TYPE_CHECKING:
    from integration.service.pipeline import Failure, Pipeline, _Pass

log = logging.getLogger("leadtherm.companies")
SEEN_FOR = 300.0  # seconds a person's record read by one pass serves the company roll-ups of the next ones
SEEN_LIMIT = 50_000  # people remembered at most (the oldest are dropped first)


@dataclass(frozen=True)
class CompanyBinding:
    """One CRM's company side: its client and the `company:` section of its mapping."""

    client: CompanyClient
    mapping: CompanyMapping


@dataclass
class PassPeople:
    """What a pass learnt about people: their fetched records, and those whose assessment changed."""

    records: dict[RecordRef, RawRecord] = field(default_factory=dict)
    # Their default score as the pass assessed it: the roll-up takes it rather than assess them again.
    assessed: dict[RecordRef, StoredAssessment] = field(default_factory=dict)
    changed: set[RecordRef] = field(default_factory=set)
    relinked: set[RecordRef] = field(default_factory=set)  # people whose company link changed


class CompanyStep:
    """Company / account scores for the CRMs that map a `company:` section."""

    def __init__(self, rules: CompanyRules | Callable[[], CompanyRules], crms: Mapping[str, CompanyBinding]) -> None:
        self._rules = rules
        self.crms = dict(crms)
        # People's records seen by recent passes of this process: a company rolled up a pass later
        # reads none of them again. Stale entries are harmless: a person's change is an event whose
        # pass refreshes the entry and re-scores the company.
        self._seen: dict[RecordRef, tuple[float, RawRecord, StoredAssessment | None]] = {}
        self._waiting: set[RecordRef] = set()  # companies queued for a later pass and not run since

    @property
    def rules(self) -> CompanyRules:
        return self._rules if isinstance(self._rules, CompanyRules) else self._rules()

    def owns(self, ref: RecordRef) -> bool:
        """True for a company / account ref of a CRM this step scores."""
        binding = self.crms.get(ref.crm)
        return binding is not None and ref.object_type == binding.client.company_type

    def is_echo(self, event: ChangeEvent) -> bool:
        """A company change that touched only the fields leadtherm writes."""
        if not self.owns(event.ref):
            return False
        own = self.crms[event.ref.crm].mapping.own_fields
        return bool(event.changed_fields) and set(event.changed_fields) <= own

    def relevant(self, event: ChangeEvent) -> bool:
        """False when the CRM names the changed fields and none of them can move the score."""
        if not event.changed_fields:
            return True
        return not self.crms[event.ref.crm].mapping.trigger_fields.isdisjoint(event.changed_fields)

    def relinks(self, event: ChangeEvent) -> bool:
        """True when the change touched a person's company link (moved to, or away from, a company)."""
        binding = self.crms.get(event.ref.crm)
        link = binding.mapping.link.get(event.ref.object_type) if binding is not None else None
        return link is not None and link in event.changed_fields

    def company_of(self, person: RecordRef, record: RawRecord) -> RecordRef | None:
        """The company a person's record links to (HubSpot associatedcompanyid, Salesforce AccountId)."""
        binding = self.crms.get(person.crm)
        if binding is None:
            return None
        link = binding.mapping.link.get(person.object_type)
        value = record.get(link) if link else None
        if value is None or str(value).strip() in ("", "0"):
            return None
        return RecordRef(person.crm, binding.client.company_type, str(value).strip())

    # ------------------------------------------------------------------ one pass

    def process(
        self,
        pipeline: Pipeline,
        run: _Pass,
        items: Mapping[RecordRef, list[QueueItem]],
        people: PassPeople,
        more_waiting: bool = False,
    ) -> dict[int, Failure]:
        """Re-score the queued companies and those of the people that changed; failures by item id.

        `more_waiting`: the pass leased a full batch, so the companies of its people wait for a later pass.
        """
        from integration.service.pipeline import Outcome

        wanted: dict[RecordRef, list[QueueItem]] = {ref: list(group) for ref, group in items.items()}
        derived = []
        for person in sorted(people.changed | people.relinked):
            company = self.company_of(person, people.records.get(person, {}))
            if company is not None and company not in wanted:
                derived.append(company)
            seen = self._seen.get(person)
            before = self.company_of(person, seen[1]) if seen is not None else None
            if before is not None and before != company and before not in wanted:
                derived.append(before)  # the company the person left loses them
        failures: dict[int, Failure] = {}
        now = pipeline.clock()
        self._remember(people.records, people.assessed)
        if more_waiting:
            # A full lease: more events are waiting, likely for the same companies' people. Queue
            # each company once for a later pass (durably) rather than read and write it now.
            later = [c for c in dict.fromkeys(derived) if c not in self._waiting]
            if later:
                stamp = now.strftime("%Y%m%dT%H%M%S%f")
                pipeline.queue.enqueue([ChangeEvent(f"company:{c}:{stamp}", c, occurred_at=now) for c in later])
                self._waiting.update(later)
            derived = []
        for company in derived:
            wanted.setdefault(company, [])
        self._waiting.difference_update(wanted)
        for ref in [r for r, group in wanted.items() if group and _latest_kind(group) is EventKind.FORGET]:
            run.batch.forget(ref)
            run.batch.audit.append(AuditEntry(ref, now, "forget", reasons=["company deleted in the CRM"]))
            del wanted[ref]
        by_crm: dict[str, list[RecordRef]] = defaultdict(list)
        for ref in wanted:
            by_crm[ref.crm].append(ref)
        retry_later: list[RecordRef] = []
        for crm, refs in by_crm.items():
            outcome = self._crm(pipeline, run, crm, sorted(refs), people, now)
            for ref, failure in outcome.items():
                group = wanted[ref]
                if group:
                    failures.update((id(item), failure) for item in group)
                elif failure.outcome is not Outcome.PERMANENT:
                    retry_later.append(ref)  # no event of its own: queue one, or the roll-up is lost
                else:
                    log.warning("company %s not re-scored: %s", ref, failure.reason)
        if retry_later:
            stamp = now.strftime("%Y%m%dT%H%M%S%f")
            pipeline.queue.enqueue([ChangeEvent(f"company:{ref}:{stamp}", ref, occurred_at=now) for ref in retry_later])
        return failures

    def _crm(
        self, pipeline: Pipeline, run: _Pass, crm: str, refs: list[RecordRef], people: PassPeople, now: datetime
    ) -> dict[RecordRef, Failure]:
        from integration.service.pipeline import Failure, Outcome

        binding = self.crms[crm]
        client = binding.client
        failures: dict[RecordRef, Failure] = {}
        writes: list[tuple[FieldWrite, CompanyAssessment, dict[str, tuple[object, object]]]] = []
        stale: list[RecordRef] = []  # people who read a company field that has changed since
        rules = self.rules  # one version for the whole CRM's companies
        size = client.company_batch_size
        for start in range(0, len(refs), size):
            chunk = refs[start : start + size]
            blocked = run.may_call(crm)
            if blocked is not None:
                failures.update(dict.fromkeys(chunk, blocked))
                continue
            try:
                fetched = client.fetch_companies(chunk)
                found = sorted(fetched.records)
                members_of = client.people_of(found) if found else {}
                records, known = self._people_records(pipeline, run, crm, members_of, people)
            except CrmError as exc:
                failures.update(dict.fromkeys(chunk, run.failed(crm, exc)))
                continue
            run.reached.add(crm)
            for ref in fetched.missing:
                run.batch.forget(ref)
            for ref in found:
                company = fetched.records[ref]
                stale.extend(read_before(binding.mapping.object, company, members_of.get(ref, []), records))
                members = self._members(pipeline, crm, members_of.get(ref, []), records, known, now)
                customer = bool(
                    binding.mapping.customer_field and to_boolean(company.get(binding.mapping.customer_field))
                )
                assessment = assess_company(read_company(company, binding.mapping), members, rules, customer)
                metrics().count(RECORDS_ASSESSED, crm=crm)  # a company is a record too: counted as people are
                wanted = company_outputs(assessment, binding.mapping)
                changes = changed_outputs(wanted, company)
                if changes:
                    diff = {name: (company.get(name), value) for name, value in changes.items()}
                    writes.append((FieldWrite(ref, changes), assessment, diff))
                else:
                    run.batch.save(ref, _stored(assessment, now))
                    metrics().count(RECORDS_UNCHANGED, crm=crm)
        if stale:
            # Their own score reads the company's fields too (a Contact's industry is its Account's):
            # each is re-read and re-scored by a later pass, as if it had changed itself.
            stamp = now.strftime("%Y%m%dT%H%M%S%f")
            pipeline.queue.enqueue([ChangeEvent(f"company-field:{p}:{stamp}", p, occurred_at=now) for p in stale])
        for start in range(0, len(writes), size):
            chunk_writes = writes[start : start + size]
            blocked = run.may_call(crm)
            if blocked is not None:
                failures.update(dict.fromkeys((w.ref for w, _, _ in chunk_writes), blocked))
                continue
            try:
                results = client.write_companies([w for w, _, _ in chunk_writes])
            except CrmError as exc:
                failure = run.failed(crm, exc)
                failures.update(dict.fromkeys((w.ref for w, _, _ in chunk_writes), failure))
                continue
            for (write, assessment, diff), result in zip(chunk_writes, results, strict=True):
                if result.status is WriteStatus.OK:
                    run.batch.save(write.ref, _stored(assessment, now))
                    reasons = [str(r) for r in assessment.reasons]
                    run.batch.audit.append(AuditEntry(write.ref, now, "write", diff, reasons))
                    run.report.written += 1
                    metrics().count(RECORDS_WRITTEN, crm=crm)
                    run.report.fields_written += len(write.values)
                    run.report.written_refs.append(write.ref)
                elif result.status is WriteStatus.MISSING:
                    run.batch.forget(write.ref)
                else:
                    outcome = Outcome.RETRY if result.status is WriteStatus.RETRY else Outcome.PERMANENT
                    failures[write.ref] = Failure(f"company write failed: {result.reason}", outcome)
        return failures

    def _people_records(
        self,
        pipeline: Pipeline,
        run: _Pass,
        crm: str,
        members_of: Mapping[RecordRef, list[RecordRef]],
        people: PassPeople,
    ) -> tuple[dict[RecordRef, RawRecord], dict[RecordRef, StoredAssessment]]:
        """Every member's record, those a recent pass fetched and the others read in the CRM's batch size;
        and the default score of those a recent pass assessed."""
        records: dict[RecordRef, RawRecord] = {}
        known: dict[RecordRef, StoredAssessment] = {}
        unread: list[RecordRef] = []
        fresh_after = time.monotonic() - SEEN_FOR
        for person in sorted({p for group in members_of.values() for p in group}):
            seen = self._seen.get(person)
            if person in people.records:
                records[person] = people.records[person]
                if person in people.assessed:
                    known[person] = people.assessed[person]
            elif seen is not None and seen[0] >= fresh_after:
                records[person] = seen[1]
                if seen[2] is not None:
                    known[person] = seen[2]
            else:
                unread.append(person)
        client = pipeline.crms[crm].client
        for start in range(0, len(unread), client.read_batch_size):
            fetched = client.fetch(unread[start : start + client.read_batch_size])
            records.update(fetched.records)
            people.records.update(fetched.records)  # a later chunk of companies may share them
            self._remember(fetched.records, {})
        return records, known

    def _remember(self, records: Mapping[RecordRef, RawRecord], assessed: Mapping[RecordRef, StoredAssessment]) -> None:
        stamp = time.monotonic()
        for ref, record in records.items():
            self._seen.pop(ref, None)  # re-inserted last: the dict stays oldest first
            self._seen[ref] = (stamp, record, assessed.get(ref))
        while len(self._seen) > SEEN_LIMIT:
            del self._seen[next(iter(self._seen))]

    def _members(
        self,
        pipeline: Pipeline,
        crm: str,
        refs: Sequence[RecordRef],
        records: Mapping[RecordRef, RawRecord],
        known: Mapping[RecordRef, StoredAssessment],
        now: datetime,
    ) -> list[Member]:
        """The roll-up's view of each person: their default score as a recent pass assessed it, else assessed now."""
        normalizer: Normalizer = pipeline.crms[crm].normalizer
        rules: ScoringRules = pipeline.rules
        members = []
        for ref in refs:
            state = known.get(ref)
            if state is not None:
                # Its next_drop_at is the soonest of the person's scores: the company is at worst swept early.
                members.append(
                    Member(
                        ref.record_id,
                        state.seniority,
                        Temperature(state.temperature),
                        state.engagement,
                        Stage(state.stage),
                        state.next_drop_at,
                    )
                )
                continue
            record = records.get(ref)
            if record is None:
                continue  # deleted meanwhile
            try:
                lead = normalizer.lead(record, ref.object_type)
            except ValueError as exc:  # a person that cannot be read does not stop its company
                log.warning("company roll-up: %s skipped: %s", ref, exc)
                continue
            assessed = assess(lead, rules, now)
            role = lead.get("seniority")
            members.append(
                Member(
                    ref.record_id,
                    str(role) if role else None,
                    assessed.temperature,
                    assessed.engagement,
                    assessed.stage,
                    assessed.next_drop_at,
                )
            )
        return members


def read_before(
    company_object: str, company: RawRecord, people: Sequence[RecordRef], records: Mapping[RecordRef, RawRecord]
) -> list[RecordRef]:
    """The people whose record holds one of the company's fields (`Account.Industry`) with another value than now.

    A person reads its company's fields through the relationship named after the company's object (the
    Salesforce convention); only fields the company's own read returned can be compared.
    """
    prefix = f"{company_object}."
    stale = []
    for person in people:
        record = records.get(person, {})
        for name, value in record.items():
            field = name[len(prefix) :] if name.startswith(prefix) else None
            if field is not None and field in company and not _same_value(value, company[field]):
                stale.append(person)
                break
    return stale


def _same_value(held: object, now: object) -> bool:
    """Equal as the CRM means it: None and "" alike, numbers by value (the APIs differ in 400 against 400.0)."""
    if held in (None, "") or now in (None, ""):
        return held in (None, "") and now in (None, "")
    if isinstance(held, int | float) and isinstance(now, int | float):
        return float(held) == float(now)
    return str(held) == str(now)


def _latest_kind(items: Sequence[QueueItem]) -> EventKind:
    epoch = datetime.min
    latest = max(items, key=lambda i: i.event.occurred_at.replace(tzinfo=None) if i.event.occurred_at else epoch)
    return latest.event.kind


def _stored(assessment: CompanyAssessment, now: datetime) -> StoredAssessment:
    return StoredAssessment(
        score=assessment.score,
        fit=assessment.fit,
        engagement=assessment.engagement,
        temperature=assessment.temperature.value,
        stage=assessment.stage.value,
        reasons=[(r.axis, r.label, r.points) for r in assessment.reasons],
        next_action="",
        assessed_at=now,
        next_drop_at=assessment.next_drop_at,
    )


class GuardedCompanies:
    """A CompanyClient behind its CRM's guard: the same token bucket, retry policy and call counts."""

    def __init__(self, inner: CompanyClient, guard: GuardedClient) -> None:
        self.inner = inner
        self.guard = guard
        self.crm = inner.crm
        self.company_type = inner.company_type
        for kind in ("fetch_companies", "people_of", "write_companies", "missing_company_outputs"):
            guard.stats.calls.setdefault(kind, 0)

    @property
    def company_batch_size(self) -> int:
        return self.inner.company_batch_size

    def fetch_companies(self, refs: Sequence[RecordRef]) -> FetchResult:
        return self.guard.call("fetch_companies", lambda: self.inner.fetch_companies(refs))

    def people_of(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        return self.guard.call("people_of", lambda: self.inner.people_of(refs))

    def write_companies(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        return self.guard.call("write_companies", lambda: self.inner.write_companies(writes))

    def missing_company_outputs(self) -> list[str]:
        return self.guard.call("missing_company_outputs", self.inner.missing_company_outputs)


__all__ = ["CompanyBinding", "CompanyStep", "GuardedCompanies", "PassPeople"]
