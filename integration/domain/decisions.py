"""The pipeline's functional core: from a fetched record to a decision, with no I/O.

The shell (`pipeline.py`) fetches, calls `decide_safely`, and carries the decisions out.
Reasons name fields and the kind of problem, never a record's value: they reach the
log, the dead-letter queue and the audit.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integration.domain.model import Assessment, Lead
from integration.domain.normalize import Normalizer, to_datetime
from integration.domain.outputs import canonical, changed_outputs, held_temperature
from integration.domain.scoring import assess, segment_holds
from integration.errors import MappingError
from integration.ports import SCORE_HISTORY, RawRecord, RecordRef, StoredAssessment
from mappings.catalogue import OUTPUTS
from mappings.schema import CrmMapping, ScoreDefinition, ScoringRules

# Outputs whose stored value can be compared with what the CRM holds (reasons are stored as rules;
# the optional outputs, a rating and a grid cell, are derived and not stored).
_COMPARABLE = tuple(o.key for o in OUTPUTS if not (o.on_temperature_change or o.optional) and o.key != "reasons")
DISPLAY_MAX_CHARS = 120  # of a company name kept for search


@dataclass(frozen=True, slots=True)
class Write:
    """Set these fields on the record (only what changed), then store `state`."""

    ref: RecordRef
    values: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    state: StoredAssessment
    recovered: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # see `recovered_write`


@dataclass(frozen=True, slots=True)
class Unchanged:
    """The CRM already holds every value: write nothing, refresh the stored assessment."""

    ref: RecordRef
    state: StoredAssessment
    recovered: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Forget:
    """The record is gone: drop what we hold about it."""

    ref: RecordRef
    reason: str


@dataclass(frozen=True, slots=True)
class Reject:
    """The record cannot be assessed until someone fixes the data or the mapping."""

    ref: RecordRef
    reason: str
    unexpected: bool = False  # not a MappingError: a bug or a value nobody foresaw


Decision = Write | Unchanged | Forget | Reject


def stored_from(
    assessment: Assessment,
    temperature_changed: bool,
    held: str | None,
    before: StoredAssessment | None,
    unmapped: tuple[str, ...] = (),
    lead: Lead | None = None,
) -> StoredAssessment:
    """The state to keep: the assessment, plus when and from what its temperature last changed.

    Of the lead, only its company and seniority are kept (what the console searches by).
    """
    changed_at: datetime | None
    if temperature_changed:
        changed_at, previous = assessment.assessed_at, held
    elif before is not None:
        changed_at, previous = before.temperature_changed_at, before.previous_temperature
    else:
        changed_at, previous = None, None
    return StoredAssessment(
        score=assessment.score,
        fit=assessment.fit,
        engagement=assessment.engagement,
        temperature=assessment.temperature.value,
        stage=assessment.stage.value,
        reasons=[(r.axis, r.label, r.points) for r in assessment.lines()],
        next_action=assessment.next_action,
        assessed_at=assessment.assessed_at,
        temperature_changed_at=changed_at,
        previous_temperature=previous,
        next_drop_at=assessment.next_drop_at,
        unmapped=unmapped,
        company=_display(lead, "company"),
        seniority=_display(lead, "seniority"),
        scores=_scores(before, assessment),
    )


def _scores(before: StoredAssessment | None, assessment: Assessment) -> tuple[tuple[datetime, int, str], ...]:
    """The record's assessments so far plus this one (a replayed pass adds none), the last SCORE_HISTORY."""
    earlier = before.scores if before is not None else ()
    if earlier and earlier[-1][0] >= assessment.assessed_at:
        return earlier
    return (*earlier, (assessment.assessed_at, assessment.score, assessment.temperature.value))[-SCORE_HISTORY:]


def _display(lead: Lead | None, name: str) -> str | None:
    """A lead's attribute as the console shows and searches it: trimmed and bounded, None when empty."""
    value = None if lead is None else lead.get(name)
    if value is None:
        return None
    return str(value).strip()[:DISPLAY_MAX_CHARS] or None


def named_outputs(
    mapping: CrmMapping, lead: Lead, record: RawRecord, scores: Sequence[ScoreDefinition], now: datetime
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]], datetime | None]:
    """What the named scores whose segment holds write: CRM field -> value, `<score>.<output>` -> (held, new),
    and the soonest moment one of them drops (for the sweep).

    A record outside a segment keeps what that score last wrote (see README, "Named scores").
    """
    values: dict[str, Any] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    soonest: datetime | None = None
    for score in scores:
        if not segment_holds(score.segment, lead.values, now):
            continue
        assessment = assess(lead, score.rules, now)
        written, changed = changed_outputs(mapping, assessment, record, now, score.name)
        values.update(written)
        changes.update((f"{score.name}.{key}", change) for key, change in changed.items())
        drop = assessment.next_drop_at
        if drop is not None and (soonest is None or drop < soonest):
            soonest = drop
    return values, changes, soonest


def decide(
    ref: RecordRef,
    record: RawRecord | None,
    normalizer: Normalizer,
    rules: ScoringRules,
    before: StoredAssessment | None,
    now: datetime,
    scores: Sequence[ScoreDefinition] = (),
) -> Decision:
    """What to do about one record, given what the CRM holds now and what we stored before.

    The default score and every named score in `scores` whose segment holds are assessed from the same
    record, and what changed in any of them is one write.
    """
    if record is None:
        return Forget(ref, "the record no longer exists in the CRM")
    try:
        reading = normalizer.read(record, ref.object_type)
        lead = reading.lead
    except MappingError as exc:
        return Reject(ref, unreadable(exc, record))
    assessment = assess(lead, rules, now)
    mapping = normalizer.mapping
    values, changes = changed_outputs(mapping, assessment, record, now)
    held = held_temperature(mapping, record)
    recovered = recovered_write(mapping, record, before)
    if recovered:
        before = adopt_history(mapping, record, before, held)
    if mapping.output_field("temperature") is None:
        changed = before is None or before.temperature != assessment.temperature.value
    else:
        changed = "temperature" in changes
    state = stored_from(assessment, changed, held, before, reading.unmapped, lead)
    if scores:
        named, named_changes, drop = named_outputs(mapping, lead, record, scores, now)
        values.update(named)
        changes.update(named_changes)
        if drop is not None and (state.next_drop_at is None or drop < state.next_drop_at):
            # The sweep revisits the record when any of its scores would drop a band.
            state = dataclasses.replace(state, next_drop_at=drop)
    return Write(ref, values, changes, state, recovered) if values else Unchanged(ref, state, recovered)


def decide_safely(
    ref: RecordRef,
    record: RawRecord | None,
    normalizer: Normalizer,
    rules: ScoringRules,
    before: StoredAssessment | None,
    now: datetime,
    scores: Sequence[ScoreDefinition] = (),
) -> Decision:
    """`decide`, where any failure on one record rejects that record only, naming the field and never the value."""
    try:
        return decide(ref, record, normalizer, rules, before, now, scores)
    except Exception as exc:  # noqa: BLE001 - one record must never stop the worker; named below, never its value
        culprit = None if record is None else culprit_field(ref, record, normalizer, rules, now)
        where = f"field {culprit!r}" if culprit else "the record"
        return Reject(ref, f"cannot assess {where}: {type(exc).__name__} while reading or scoring it", unexpected=True)


def culprit_field(
    ref: RecordRef, record: RawRecord, normalizer: Normalizer, rules: ScoringRules, now: datetime
) -> str | None:
    """The first field that alone makes reading or scoring fail (only on the failure path: one try per field)."""
    id_field = normalizer.mapping.id_field
    for name in record:
        if name == id_field:
            continue
        alone = {id_field: record.get(id_field), name: record[name]}
        try:
            assess(normalizer.lead(alone, ref.object_type), rules, now)
        except Exception:  # noqa: BLE001 - probing which field fails; MappingError included
            return name
    return None


def unreadable(exc: MappingError, record: RawRecord) -> str:
    """A MappingError as a reason: the field, the attribute and the kind of problem, without the value."""
    kind = exc.reason.split(", got ", 1)[0].strip()
    raw = record.get(exc.field)
    shown = "" if raw is None else str(raw).strip()
    if not kind or "'" in kind or '"' in kind or (shown and shown in kind):
        kind = "a value it cannot read"
    return f"cannot read field {exc.field!r} ({exc.attribute}): {kind}"


def recovered_write(
    mapping: CrmMapping, record: RawRecord, before: StoredAssessment | None
) -> dict[str, tuple[Any, Any]]:
    """Outputs the CRM holds that differ from what we stored: a write whose pass died before it committed.

    Output key -> (stored, held); empty when the stored state agrees with the CRM.
    """
    stored: dict[str, Any] = {}
    if before is not None:
        stored = {key: getattr(before, key) for key in _COMPARABLE}
    found: dict[str, tuple[Any, Any]] = {}
    for key in _COMPARABLE:
        name = mapping.output_field(key)
        if name is None:
            continue
        held = canonical(key, record.get(name))
        mine = canonical(key, stored.get(key))
        if held is not None and held != mine:
            found[key] = (mine, held)
    return found


def adopt_history(
    mapping: CrmMapping, record: RawRecord, before: StoredAssessment | None, held: str | None
) -> StoredAssessment | None:
    """The stored state corrected by what the CRM holds: its temperature, previous one and changed-at."""
    if held is None:
        return before
    changed_at = before.temperature_changed_at if before else None
    previous = before.previous_temperature if before else None
    changed_field = mapping.output_field("temperature_changed_at")
    if changed_field is not None and record.get(changed_field):
        with contextlib.suppress(ValueError):  # else keep ours: the CRM's value is not a date leadtherm wrote
            changed_at = to_datetime(record.get(changed_field))
    previous_field = mapping.output_field("previous_temperature")
    if previous_field is not None:
        held_previous = canonical("previous_temperature", record.get(previous_field))
        previous = None if held_previous is None else str(held_previous)
    if before is None:
        return None if changed_at is None else _placeholder(held, changed_at, previous)
    return dataclasses.replace(
        before, temperature=held, temperature_changed_at=changed_at, previous_temperature=previous
    )


def _placeholder(temperature: str, changed_at: datetime, previous: str | None) -> StoredAssessment:
    """A stand-in for a lost first state: only its temperature history is read."""
    return StoredAssessment(
        score=0,
        fit=0,
        engagement=0,
        temperature=temperature,
        stage="",
        reasons=[],
        next_action="",
        assessed_at=changed_at,
        temperature_changed_at=changed_at,
        previous_temperature=previous,
    )
