"""A decoded change event -> the ChangeEvents to queue, with own writes and unread fields dropped first."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.salesforce.related import RELATED_OBJECTS
from integration.ports import ChangeEvent, EventKind, RecordRef

CRM = "salesforce"
GAPS = frozenset({"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"})


def topic_of(object_type: str) -> str:
    """Lead -> /data/LeadChangeEvent; a custom Thing__c -> /data/Thing__ChangeEvent."""
    base = object_type.removesuffix("__c") + "__" if object_type.endswith("__c") else object_type
    return f"/data/{base}ChangeEvent"


@dataclass
class Translation:
    """What one batch of change events comes to; counts add up across batches."""

    events: list[ChangeEvent] = field(default_factory=list)
    own_writes: int = 0
    irrelevant: int = 0
    foreign: int = 0  # entities no mapping covers
    gaps: int = 0
    resync: set[str] = field(default_factory=set)  # object types to backfill (an overflow without ids)


@dataclass(frozen=True)
class Translator:
    """Knows which objects and fields leadtherm reads and who the integration user is."""

    objects: Collection[str]
    read_fields: frozenset[str]  # without leadtherm's own outputs: a change to only those is an echo
    integration_user: str
    # Opportunity fields the mapping reads through a conversion (IsWon): their changes re-score its Contacts
    opportunity_fields: frozenset[str] = frozenset()

    def add(self, replay_hex: str, header: Mapping[str, Any], changed: list[str], into: Translation) -> None:
        """Translate one event's ChangeEventHeader (its changed/nulled fields already decoded)."""
        entity = str(header.get("entityName") or "")
        related = entity in RELATED_OBJECTS and bool(self.opportunity_fields)
        if entity not in self.objects and not related:
            into.foreign += 1
            return
        change = str(header.get("changeType") or "")
        ids = [str(i) for i in header.get("recordIds") or []]
        stamp = header.get("commitTimestamp")
        occurred = datetime.fromtimestamp(stamp / 1000, tz=UTC) if isinstance(stamp, int) else None
        if change in GAPS:
            # A gap event carries no values and may stand for changes of any kind: re-fetch the records
            # (one deleted meanwhile comes back missing and is forgotten); no ids or a wildcard: all of them.
            into.gaps += 1
            if not ids or any("*" in i for i in ids):
                into.resync.add(entity)
                return
            into.events.extend(self._event(replay_hex, entity, i, EventKind.RESCORE, occurred) for i in ids)
            return
        if change == "DELETE":
            into.events.extend(self._event(replay_hex, entity, i, EventKind.FORGET, occurred) for i in ids)
            return
        if change == "UPDATE":
            user = str(header.get("commitUser") or "")
            if user and self.integration_user and user[:15] == self.integration_user[:15]:
                into.own_writes += 1
                return
            if changed and (self.opportunity_fields if related else self.read_fields).isdisjoint(changed):
                into.irrelevant += 1
                return
            names = tuple(sorted(set(changed)))
            into.events.extend(
                self._event(replay_hex, entity, i, EventKind.RESCORE, occurred, names, user or None) for i in ids
            )
            return
        # CREATE and UNDELETE (and any type Salesforce adds later): score the record as it is now.
        into.events.extend(self._event(replay_hex, entity, i, EventKind.RESCORE, occurred) for i in ids)

    @staticmethod
    def _event(
        replay_hex: str,
        entity: str,
        record_id: str,
        kind: EventKind,
        occurred: datetime | None,
        changed: tuple[str, ...] = (),
        actor: str | None = None,
    ) -> ChangeEvent:
        # The replay id names the event for good: a redelivery after a crash is a duplicate by id.
        event_id = f"{CRM}:cdc:{replay_hex}:{record_id}"
        return ChangeEvent(event_id, RecordRef(CRM, entity, record_id), kind, occurred, changed, actor)
