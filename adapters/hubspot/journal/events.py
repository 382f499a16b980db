"""Journal events -> the same ChangeEvents the push route makes, filtered and coalesced per record.

A journal event (the v4 model) names its change by `subscriptionType` + `action` +
`objectTypeId` where a pushed v3 event has `subscriptionType` "object.creation" and the like;
once renamed, inbound.py's translation applies unchanged, so both intakes mean the same thing
by the same change. Own writes and changes to properties leadtherm does not read are dropped
here by the pipeline's own rules, so they cost neither a queue row nor a CRM call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.hubspot.inbound import _events_of
from integration.errors import PayloadError
from integration.ports import ChangeEvent, EventKind

log = logging.getLogger("leadtherm.hubspot.journal")

# v4 action -> the suffix of the v3 push kind (object.<suffix> with objectTypeId, as the newer platform pushes).
_ACTIONS = {
    "CREATE": "creation",
    "UPDATE": "propertyChange",
    "DELETE": "deletion",
    "MERGE": "merge",
    "RESTORE": "restore",
    "GDPR_DELETE": "privacyDeletion",
}


@dataclass
class Translation:
    events: list[ChangeEvent] = field(default_factory=list)
    received: int = 0
    own_writes: int = 0
    irrelevant: int = 0
    malformed: int = 0
    coalesced: int = 0
    newest_ms: int | None = None  # the latest occurredAt seen: how far behind the journal the intake is


def as_push_event(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """A journal event in the push route's terms, or None for one leadtherm has no use for."""
    action = raw.get("action")
    if raw.get("subscriptionType") not in ("OBJECT", "GDPR_PRIVACY_DELETION") or action not in _ACTIONS:
        return None
    return {**raw, "subscriptionType": f"object.{_ACTIONS[str(action)]}"}


def translate(
    raw_events: Iterable[Mapping[str, Any]],
    is_own_write: Callable[[ChangeEvent], bool],
    is_relevant: Callable[[ChangeEvent], bool],
) -> Translation:
    """Translate, drop own writes and unread properties, then keep one event per record (the latest)."""
    result = Translation()
    latest: dict[Any, ChangeEvent] = {}
    for raw in raw_events:
        result.received += 1
        occurred = raw.get("occurredAt")
        if isinstance(occurred, int) and not isinstance(occurred, bool):
            result.newest_ms = max(result.newest_ms or occurred, occurred)
        pushed = as_push_event(raw)
        if pushed is None:
            continue
        try:
            events = _events_of(pushed)
        except PayloadError as exc:
            result.malformed += 1
            log.warning("journal event %s skipped: %s", raw.get("eventId"), exc)  # ids only
            continue
        for event in events:
            if is_own_write(event):
                result.own_writes += 1
            elif not is_relevant(event):
                result.irrelevant += 1
            else:
                before = latest.pop(event.ref, None)
                if before is not None:
                    result.coalesced += 1
                    event = _merged(before, event)
                latest[event.ref] = event  # re-inserted: the dict keeps the order of each record's last change
    result.events = list(latest.values())
    return result


def _merged(before: ChangeEvent, after: ChangeEvent) -> ChangeEvent:
    """Two changes of one record: the later decides; a re-score names every field either touched."""
    if after.kind is not EventKind.RESCORE or before.kind is not EventKind.RESCORE:
        return after
    if not before.changed_fields or not after.changed_fields:  # a creation or merge: everything may have changed
        fields: tuple[str, ...] = ()
    else:
        fields = tuple(dict.fromkeys((*before.changed_fields, *after.changed_fields)))
    return ChangeEvent(after.event_id, after.ref, after.kind, after.occurred_at, fields, after.actor)
