"""What leadtherm writes back, and the pure comparison with what the CRM already holds."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from integration.domain.model import Assessment, Reason, signed
from integration.domain.normalize import to_datetime
from integration.ports import RawRecord
from mappings.catalogue import OUTPUTS
from mappings.schema import CrmMapping

REASONS_MAX_CHARS = 1000  # HubSpot text properties shown on a record; Salesforce takes more
NUMERIC_OUTPUTS = frozenset(o.key for o in OUTPUTS if o.value in ("percent", "rating"))
_EVERY_ASSESSMENT = tuple(o.key for o in OUTPUTS if not o.on_temperature_change)
_MILLISECOND = timedelta(milliseconds=1)


def reasons_text(assessment: Assessment, limit: int = 5, max_chars: int = REASONS_MAX_CHARS) -> str:
    """The reasons that moved the score most, the others summed in one item, so the points add up to the score.

    E.g. "Requested a demo or quote (+15); Decision-maker title (+13); No activity for 64 days (-37); 9 more (+72)".
    """
    reasons = assessment.lines()
    shown = sorted(reasons, key=lambda r: -abs(r.points))[: limit if len(reasons) <= limit else max(limit - 1, 0)]
    parts = [str(r) for r in shown]
    if len(reasons) > len(shown):
        rest = sum(r.points for r in reasons) - sum(r.points for r in shown)
        parts.append(f"{len(reasons) - len(shown)} more ({signed(rest)})")
    if assessment.missing_for_hot and assessment.temperature.value == "warm":
        parts.append("hot once confirmed: " + ", ".join(assessment.missing_for_hot))
    text = "; ".join(parts)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


# Refuses NaN and Infinity (no JSON reader takes them); one encoder: json.dumps makes one per call.
_ENCODE = json.JSONEncoder(allow_nan=False).encode


def points_json(lines: Iterable[Reason]) -> str:
    """Every line of a score as a JSON array of {axis, label, points}: a program can check they add up."""
    return _ENCODE([{"axis": r.axis, "label": r.label, "points": int(r.points)} for r in lines])


def format_datetime(moment: datetime) -> str:
    """ISO 8601 in UTC to the millisecond, which both CRMs accept for date-time fields."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def change_moment(now: datetime, held: Any) -> datetime:
    """When a temperature changed: `now` to the millisecond, and always after the change the CRM holds.

    Two changes within one millisecond (or a clock that stepped back) still write distinct, rising
    values, so a workflow keyed on the field sees each change.
    """
    moment = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    try:
        before = to_datetime(held)
    except ValueError:
        before = None
    if before is not None and moment <= before:
        moment = before.astimezone(UTC) + _MILLISECOND
    return moment


def assessment_outputs(assessment: Assessment) -> dict[str, Any]:
    """The values every assessment yields, by output key (before field names)."""
    every: dict[str, Any] = {
        "score": assessment.score,
        "fit": assessment.fit,
        "engagement": assessment.engagement,
        "temperature": assessment.temperature.value,
        "stage": assessment.stage.value,
        "reasons": reasons_text(assessment),
        "next_action": assessment.next_action,
        "rating": assessment.rating,
        "grid": assessment.grid,
    }
    return {key: every[key] for key in _EVERY_ASSESSMENT}


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
    mapping: CrmMapping, assessment: Assessment, record: RawRecord, now: datetime, score: str | None = None
) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """CRM field -> value to write, and output key -> (held, new), for what really changed.

    `score`: the named score `assessment` is of (its own fields), None for the default score.
    `previous_temperature` and `temperature_changed_at` are written only with a temperature change,
    so a workflow enrolling on either fires exactly once per change.
    """
    values: dict[str, Any] = {}
    changes: dict[str, tuple[Any, Any]] = {}
    fields = mapping.outputs if score is None else mapping.score_outputs(score)  # looked up once, not per output
    for key, new in assessment_outputs(assessment).items():
        field = fields.get(key)
        if field is None:
            continue
        held = canonical(key, record.get(field))
        if held != new:
            values[field] = new
            changes[key] = (held, new)
    if "temperature" in changes:
        old = changes["temperature"][0]
        previous_field = fields.get("previous_temperature")
        if previous_field is not None and old is not None:
            values[previous_field] = old
            changes["previous_temperature"] = (canonical("x", record.get(previous_field)), old)
        changed_at_field = fields.get("temperature_changed_at")
        if changed_at_field is not None:
            held_at = record.get(changed_at_field)
            values[changed_at_field] = format_datetime(change_moment(now, held_at))
            changes["temperature_changed_at"] = (canonical("x", held_at), values[changed_at_field])
    return values, changes
