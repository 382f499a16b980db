"""The pipeline's functional core: from a fetched record to a decision, with no I/O.

The shell (`pipeline.py`) fetches, calls `decide`, and carries the decisions out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from integration.errors import MappingError
from integration.model import Assessment
from integration.normalize import Normalizer
from integration.outputs import changed_outputs, held_temperature
from integration.ports import RawRecord, RecordRef, StoredAssessment
from integration.scoring import assess
from mappings.schema import ScoringRules


@dataclass(frozen=True, slots=True)
class Write:
    """Set these fields on the record (only what changed), then store `state`."""

    ref: RecordRef
    values: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    state: StoredAssessment


@dataclass(frozen=True, slots=True)
class Unchanged:
    """The CRM already holds every value: write nothing, refresh the stored assessment."""

    ref: RecordRef
    state: StoredAssessment


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


Decision = Write | Unchanged | Forget | Reject


def stored_from(
    assessment: Assessment,
    temperature_changed: bool,
    held: str | None,
    before: StoredAssessment | None,
) -> StoredAssessment:
    """The state to keep: the assessment, plus when and from what its temperature last changed."""
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
        reasons=[(r.axis, r.label, r.points) for r in assessment.reasons],
        next_action=assessment.next_action,
        assessed_at=assessment.assessed_at,
        temperature_changed_at=changed_at,
        previous_temperature=previous,
        next_drop_at=assessment.next_drop_at,
    )


def decide(
    ref: RecordRef,
    record: RawRecord | None,
    normalizer: Normalizer,
    rules: ScoringRules,
    before: StoredAssessment | None,
    now: datetime,
) -> Decision:
    """What to do about one record, given what the CRM holds now and what we stored before."""
    if record is None:
        return Forget(ref, "the record no longer exists in the CRM")
    try:
        lead = normalizer.lead(record, ref.object_type)
    except MappingError as exc:
        return Reject(ref, f"cannot read the record: {exc}")
    assessment = assess(lead, rules, now)
    mapping = normalizer.mapping
    values, changes = changed_outputs(mapping, assessment, record, now)
    held = held_temperature(mapping, record)
    if mapping.output_field("temperature") is None:
        changed = before is None or before.temperature != assessment.temperature.value
    else:
        changed = "temperature" in changes
    state = stored_from(assessment, changed, held, before)
    return Write(ref, values, changes, state) if values else Unchanged(ref, state)
