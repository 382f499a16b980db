"""What leadtherm writes back, and the pure comparison with what the CRM already holds."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from integration.model import Assessment
from integration.ports import RawRecord
from mappings.schema import CrmMapping

REASONS_MAX_CHARS = 1000  # HubSpot text properties shown on a record; Salesforce takes more
NUMERIC_OUTPUTS = frozenset({"score", "fit", "engagement"})


def reasons_text(assessment: Assessment, limit: int = 5, max_chars: int = REASONS_MAX_CHARS) -> str:
    """Top reasons in plain language, e.g. "Decision-maker title (+25); Page views (+12)"."""
    parts = [str(r) for r in assessment.top_reasons(limit)]
    if assessment.missing_for_hot and assessment.temperature.value == "warm":
        parts.append("hot once confirmed: " + ", ".join(assessment.missing_for_hot))
    text = "; ".join(parts)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def format_datetime(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, which both CRMs accept for date-time fields."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def assessment_outputs(assessment: Assessment) -> dict[str, Any]:
    """The values every assessment yields, by output key (before field names)."""
    return {
        "score": assessment.score,
        "fit": assessment.fit,
        "engagement": assessment.engagement,
        "temperature": assessment.temperature.value,
        "stage": assessment.stage.value,
        "reasons": reasons_text(assessment),
        "next_action": assessment.next_action,
    }


def canonical(key: str, value: Any) -> Any:
    """A CRM-held value in the form leadtherm writes, so "42", 42.0 and 42 compare equal."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if key in NUMERIC_OUTPUTS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return math.floor(number + 0.5) if math.isfinite(number) else str(value)
    return str(value).strip()


def held_temperature(mapping: CrmMapping, record: RawRecord | None) -> str | None:
    field = mapping.output_field("temperature")
    if record is None or field is None:
        return None
    held = canonical("temperature", record.get(field))
    return None if held is None else str(held)


def changed_outputs(
    mapping: CrmMapping, assessment: Assessment, record: RawRecord, now: datetime
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """CRM field -> value to write, and output key -> (held, new), for what really changed.

    `previous_temperature` and `temperature_changed_at` are written only with a temperature change,
    so a workflow enrolling on either fires exactly once per change.
    """
    values: dict[str, Any] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    for key, new in assessment_outputs(assessment).items():
        field = mapping.output_field(key)
        if field is None:
            continue
        held = canonical(key, record.get(field))
        if held != new:
            values[field] = new
            changes[key] = (held, new)
    if "temperature" in changes:
        old = changes["temperature"][0]
        previous_field = mapping.output_field("previous_temperature")
        if previous_field is not None and old is not None:
            values[previous_field] = old
            changes["previous_temperature"] = (canonical("x", record.get(previous_field)), old)
        changed_at_field = mapping.output_field("temperature_changed_at")
        if changed_at_field is not None:
            values[changed_at_field] = format_datetime(now)
            changes["temperature_changed_at"] = (None, values[changed_at_field])
    return values, changes
