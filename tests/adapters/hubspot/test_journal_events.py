"""Journal events mean what the same pushed webhook means: translated, filtered, coalesced per record."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.hubspot.journal.events import translate
from adapters.hubspot.journal.settings import JournalSettings
from integration.errors import ConfigError
from integration.ports import ChangeEvent, EventKind, RecordRef

READ = {"jobtitle", "numemployees"}
OWN = {"leadtherm_score"}


def _event(event_id: int, action: str, object_id: int = 1001, prop: str | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "eventId": event_id, "portalId": 62515, "subscriptionType": "OBJECT", "action": action,
        "objectTypeId": "0-1", "objectId": object_id, "occurredAt": 1_700_000_000_000 + event_id,
        "changeSource": "CRM_UI", "sourceId": "userId:1",
    }  # fmt: skip
    if prop:
        raw.update(propertyName=prop, propertyValue="x")
    return {**raw, **extra}


def _own(event: ChangeEvent) -> bool:
    return bool(event.changed_fields) and set(event.changed_fields) <= OWN


def _relevant(event: ChangeEvent) -> bool:
    return not event.changed_fields or bool(set(event.changed_fields) & READ)


def _of(*raw: dict[str, Any]) -> list[ChangeEvent]:
    return translate(raw, _own, _relevant).events


def test_property_changes_of_one_record_become_one_event_naming_every_field() -> None:
    [event] = _of(_event(1, "UPDATE", prop="jobtitle"), _event(2, "UPDATE", prop="numemployees"))
    assert event.kind is EventKind.RESCORE
    assert event.changed_fields == ("jobtitle", "numemployees")
    assert event.event_id == "hubspot:62515:2"  # the later change's id: the same on a re-read


def test_a_creation_followed_by_a_change_rescores_everything() -> None:
    [event] = _of(_event(1, "CREATE"), _event(2, "UPDATE", prop="jobtitle"))
    assert event.changed_fields == ()


def test_a_deletion_after_changes_forgets_the_record() -> None:
    [event] = _of(_event(1, "UPDATE", prop="jobtitle"), _event(2, "DELETE"))
    assert event.kind is EventKind.FORGET


def test_a_privacy_deletion_forgets_the_record() -> None:
    [event] = _of(_event(1, "GDPR_DELETE", subscriptionType="GDPR_PRIVACY_DELETION"))
    assert event.kind is EventKind.FORGET and event.ref == RecordRef("hubspot", "contact", "1001")


def test_a_merge_rescores_the_survivor_and_forgets_the_merged_contact() -> None:
    merge = _event(1, "MERGE", primaryObjectId=1001, mergedObjectIds=[1002], newObjectId=1001)
    events = {e.ref.record_id: e.kind for e in _of(merge)}
    assert events == {"1001": EventKind.RESCORE, "1002": EventKind.FORGET}


def test_own_writes_and_unread_properties_are_dropped_and_counted() -> None:
    result = translate(
        [_event(1, "UPDATE", prop="leadtherm_score"), _event(2, "UPDATE", 1002, prop="firstname")], _own, _relevant
    )
    assert result.events == []
    assert (result.own_writes, result.irrelevant, result.received) == (1, 1, 2)


def test_a_malformed_event_is_skipped_not_fatal() -> None:
    result = translate([_event(1, "UPDATE", object_id=-5, prop="jobtitle"), _event(2, "CREATE", 1003)], _own, _relevant)
    assert [e.ref.record_id for e in result.events] == ["1003"]
    assert result.malformed == 1


def test_the_settings_name_every_missing_variable_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        JournalSettings.from_env({"HUBSPOT_JOURNAL_START": "yesterday"}, "https://api.hubapi.com")
    text = str(caught.value)
    for name in ("HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET", "HUBSPOT_PORTAL_ID", "HUBSPOT_JOURNAL_START"):
        assert name in text
