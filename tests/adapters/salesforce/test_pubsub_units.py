"""The pure parts of the CDC intake: bitmap field lists, translation rules, configuration, setup steps."""

from __future__ import annotations

import json

import pytest

from adapters.salesforce.pubsub.avro import EventSchema
from adapters.salesforce.pubsub.listener import ListenerConfig
from adapters.salesforce.pubsub.setup_steps import cdc_instructions
from adapters.salesforce.pubsub.translate import Translation, Translator, topic_of
from integration.errors import ConfigError
from integration.ports import EventKind, RecordRef
from mappings.loader import load_mapping

USER = "0055g0000000001AAA"
SCHEMA = json.dumps({
    "type": "record", "name": "LeadChangeEvent",
    "fields": [
        {"name": "ChangeEventHeader", "type": {"type": "record", "name": "H", "fields": []}},
        {"name": "Name", "type": ["null", {"type": "record", "name": "Name", "fields": [
            {"name": "Salutation", "type": ["null", "string"]}, {"name": "FirstName", "type": ["null", "string"]},
            {"name": "LastName", "type": ["null", "string"]}]}], "default": None},
        {"name": "Title", "type": ["null", "string"], "default": None},
        {"name": "Rating", "type": ["null", "string"], "default": None},
    ],
})  # fmt: skip


def _translator() -> Translator:
    return Translator(("Lead", "Contact"), frozenset({"Title", "Rating"}), USER)


def _header(change: str, ids: list[str], user: str = "0055g00000PersonAAA") -> dict[str, object]:
    return {"entityName": "Lead", "changeType": change, "recordIds": ids, "commitUser": user,
            "commitTimestamp": 1_764_000_000_000}  # fmt: skip


def test_changed_fields_bitmaps_name_top_level_and_compound_fields() -> None:
    schema = EventSchema.from_json("s1", SCHEMA)
    assert schema.field_names(["0x0C"]) == ["Title", "Rating"]  # bits 2 and 3
    assert schema.field_names(["1-0x02"]) == ["FirstName"]  # Name's second child
    assert schema.field_names(["Title"]) == ["Title"]  # plain names pass through


def test_an_update_by_the_integration_user_is_an_own_write_and_queues_nothing() -> None:
    into = Translation()
    _translator().add("00aa", _header("UPDATE", ["00Q1"], user=USER[:15]), ["Rating"], into)
    assert into.events == [] and into.own_writes == 1


def test_an_update_of_unread_fields_is_dropped_and_of_a_read_field_is_queued_with_its_fields() -> None:
    into = Translation()
    _translator().add("00aa", _header("UPDATE", ["00Q1"]), ["FirstName", "LastModifiedDate"], into)
    _translator().add("00ab", _header("UPDATE", ["00Q2"]), ["Title", "LastModifiedDate"], into)
    assert into.irrelevant == 1
    [event] = into.events
    assert event.ref.record_id == "00Q2" and event.changed_fields == ("LastModifiedDate", "Title")
    assert event.event_id == "salesforce:cdc:00ab:00Q2"


def test_deletes_forget_gaps_refetch_and_an_overflow_without_ids_asks_for_a_backfill() -> None:
    into = Translation()
    translator = _translator()
    translator.add("01", _header("DELETE", ["00Q1"]), [], into)
    translator.add("02", _header("GAP_UPDATE", ["00Q2", "00Q3"]), [], into)
    translator.add("03", _header("GAP_OVERFLOW", []), [], into)
    translator.add("04", {**_header("UPDATE", ["001"]), "entityName": "Account"}, [], into)
    assert [(e.kind, e.ref.record_id) for e in into.events] == [
        (EventKind.FORGET, "00Q1"), (EventKind.RESCORE, "00Q2"), (EventKind.RESCORE, "00Q3")
    ]  # fmt: skip
    assert into.gaps == 2 and into.resync == {"Lead"} and into.foreign == 1


def test_topics_follow_the_objects_and_bad_settings_are_all_named() -> None:
    assert topic_of("Lead") == "/data/LeadChangeEvent" and topic_of("Thing__c") == "/data/Thing__ChangeEvent"
    config = ListenerConfig.from_env({}, ("Lead", "Contact"))
    assert config.topics == ("/data/LeadChangeEvent", "/data/ContactChangeEvent") and config.start_from == "LATEST"
    with pytest.raises(ConfigError) as failed:
        ListenerConfig.from_env({"SALESFORCE_CDC_START": "YESTERDAY", "SALESFORCE_CDC_BATCH": "none"}, ("Lead",))
    assert {p.field for p in failed.value.problems} == {"SALESFORCE_CDC_START", "SALESFORCE_CDC_BATCH"}


def test_setup_prints_the_change_data_capture_selection_steps() -> None:
    text = "\n".join(cdc_instructions(load_mapping("salesforce")))
    assert "Change Data Capture" in text and "LeadChangeEvent" in text and "ContactChangeEvent" in text
    assert "leadtherm listen salesforce" in text


def test_an_opportunity_stage_change_is_queued_for_its_contacts_and_its_other_changes_are_dropped() -> None:
    translator = Translator(("Lead", "Contact"), frozenset({"Title"}), USER, frozenset({"IsWon"}))
    into = Translation()
    won = {**_header("UPDATE", ["0061"]), "entityName": "Opportunity"}
    renamed = {**_header("UPDATE", ["0062"]), "entityName": "Opportunity"}
    translator.add("00ac", won, ["StageName", "IsWon", "IsClosed"], into)
    translator.add("00ad", renamed, ["Name", "Amount"], into)
    [event] = into.events
    assert event.ref == RecordRef("salesforce", "Opportunity", "0061") and into.irrelevant == 1


def test_opportunity_events_are_foreign_when_the_mapping_reads_nothing_through_a_conversion() -> None:
    into = Translation()
    _translator().add("00ae", {**_header("UPDATE", ["0061"]), "entityName": "Opportunity"}, ["IsWon"], into)
    assert into.events == [] and into.foreign == 1
