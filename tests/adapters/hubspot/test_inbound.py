"""HubSpot webhook verification and event mapping, against HubSpot's documented wire format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.hubspot.field_setup import webhook_instructions
from adapters.hubspot.inbound import MAX_MERGED_IDS, HubSpotWebhookRoute, legacy_versions, parse, signed_uri, verify
from adapters.hubspot.plugin import plugin
from adapters.sqlite import SqliteWorkQueue
from integration.errors import PayloadError, VerificationError
from integration.ports import EventKind, RecordRef
from integration.ports.inbound import InboundRequest, WebhookSettingError
from mappings.loader import load_mapping
from webhooks.app import AppConfig, create_app
from webhooks.forwarding import ProxyPolicy, parse_trusted_proxies

SECRET = "client-secret-1"
URL = "https://hooks.example.com/webhooks/hubspot"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def hubspot_event(event_id: int, object_id: int, kind: str = "contact.propertyChange", **extra: Any) -> dict[str, Any]:
    """One event as HubSpot documents it."""
    event = {
        "eventId": event_id,
        "subscriptionId": 4242,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": int(NOW.timestamp() * 1000) - 5000,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM_UI",
        "sourceId": "userId:1234",
    }
    if kind.endswith("propertyChange"):
        event.update(propertyName="jobtitle", propertyValue="CEO")
    event.update(extra)
    return event


def sign_v3(body: bytes, timestamp_ms: int, url: str = URL, secret: str = SECRET) -> dict[str, str]:
    """What HubSpot sends: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    message = f"POST{url}{body.decode()}{timestamp_ms}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": str(timestamp_ms),
        "Content-Type": "application/json",
    }


def sign_v1(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-HubSpot-Signature": hashlib.sha256(secret.encode() + body).hexdigest(),
        "X-HubSpot-Signature-Version": "v1",
    }


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


BODY = json.dumps([hubspot_event(1, 51)]).encode()


def test_a_correct_v3_signature_is_accepted() -> None:
    verify("POST", URL, sign_v3(BODY, ms(NOW)), BODY, [SECRET], NOW)


def test_a_v3_signature_made_with_another_secret_is_rejected() -> None:
    with pytest.raises(VerificationError, match="does not match"):
        verify("POST", URL, sign_v3(BODY, ms(NOW), secret="other"), BODY, [SECRET], NOW)


def test_during_secret_rotation_the_old_and_the_new_secret_both_verify() -> None:
    headers = sign_v3(BODY, ms(NOW), secret="old-secret")
    verify("POST", URL, headers, BODY, ["new-secret", "old-secret"], NOW)


def test_a_timestamp_older_than_five_minutes_is_rejected_as_a_replay() -> None:
    stale = ms(NOW - timedelta(minutes=5, seconds=1))
    with pytest.raises(VerificationError, match="older than 5 minutes"):
        verify("POST", URL, sign_v3(BODY, stale), BODY, [SECRET], NOW)


def test_a_timestamp_from_the_future_is_rejected() -> None:
    ahead = ms(NOW + timedelta(minutes=6))
    with pytest.raises(VerificationError, match="future"):
        verify("POST", URL, sign_v3(BODY, ahead), BODY, [SECRET], NOW)


def test_a_tampered_body_is_rejected() -> None:
    headers = sign_v3(BODY, ms(NOW))
    with pytest.raises(VerificationError):
        verify("POST", URL, headers, BODY.replace(b"51", b"52"), [SECRET], NOW)


def test_the_signed_uri_has_hubspots_escapes_decoded() -> None:
    called = "https://hooks.example.com/webhooks/hubspot?portal%3D1%2C2%3Bx%40y"
    assert signed_uri(called) == "https://hooks.example.com/webhooks/hubspot?portal%3D1,2;x@y"
    verify("POST", called, sign_v3(BODY, ms(NOW), url=signed_uri(called)), BODY, [SECRET], NOW)


def sign_v2(body: bytes, url: str = URL, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-HubSpot-Signature": hashlib.sha256(f"{secret}POST{url}".encode() + body).hexdigest(),
        "X-HubSpot-Signature-Version": "v2",
    }


V1_ONLY = frozenset({"v1"})


def test_a_valid_v1_signature_is_refused_by_default_because_it_never_expires() -> None:
    with pytest.raises(VerificationError, match="v1/v2 signatures are not accepted"):
        verify("POST", URL, sign_v1(BODY), BODY, [SECRET], NOW)


def test_an_operator_can_enable_v1_for_an_app_that_sends_nothing_newer() -> None:
    verify("POST", URL, sign_v1(BODY), BODY, [SECRET], NOW, legacy=V1_ONLY)


def test_enabling_v2_does_not_let_a_v1_signature_in() -> None:
    verify("POST", URL, sign_v2(BODY), BODY, [SECRET], NOW, legacy=frozenset({"v2"}))
    with pytest.raises(VerificationError, match="'v1' is not accepted"):
        verify("POST", URL, sign_v1(BODY), BODY, [SECRET], NOW, legacy=frozenset({"v2"}))


def test_when_v3_headers_are_present_a_valid_v1_signature_cannot_rescue_a_stale_request() -> None:
    headers = {**sign_v3(BODY, ms(NOW - timedelta(hours=1))), **sign_v1(BODY)}
    with pytest.raises(VerificationError, match="older"):
        verify("POST", URL, headers, BODY, [SECRET], NOW, legacy=V1_ONLY)


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [(None, frozenset()), ("", frozenset()), ("v1", {"v1"}), (" V1 , v2 ", {"v1", "v2"})],
)
def test_the_legacy_setting_names_the_versions_allowed(setting: str | None, allowed: set[str]) -> None:
    assert legacy_versions(setting) == allowed


@pytest.mark.parametrize("setting", ["v3", "yes", "v1,true"])
def test_a_malformed_legacy_setting_is_an_error_naming_the_variable(setting: str) -> None:
    with pytest.raises(WebhookSettingError, match="HUBSPOT_ALLOW_LEGACY_SIGNATURES"):
        legacy_versions(setting)


def test_the_plugin_enables_legacy_signatures_only_when_the_operator_says_so() -> None:
    mapping = load_mapping("hubspot")
    [default] = plugin.routes(mapping, {"HUBSPOT_CLIENT_SECRET": SECRET})
    [enabled] = plugin.routes(mapping, {"HUBSPOT_CLIENT_SECRET": SECRET, "HUBSPOT_ALLOW_LEGACY_SIGNATURES": "v1"})
    assert isinstance(default, HubSpotWebhookRoute) and default.legacy == frozenset()
    assert isinstance(enabled, HubSpotWebhookRoute) and enabled.legacy == V1_ONLY


@pytest.mark.parametrize(
    "timestamp",
    [
        "\u0661\u0667" + "\u0660" * 11,  # Arabic-Indic digits: str.isdigit() and int() accept them
        "\u00b2",  # superscript two, as a latin-1 header byte arrives: isdigit() but not int()
        "9" * 15,  # year 33658: datetime cannot hold it
        "9" * 16,
        "-1",
        "+1764000000000",
        " 1764000000000",
        "1764000000000\n",
        "1.7e12",
        "0x10",
        "",
    ],
    ids=["arabic-indic", "superscript", "year-overflow", "too-long", "negative", "plus", "space", "newline",
         "float", "hex", "empty"],
)  # fmt: skip
def test_every_unreadable_timestamp_is_a_verification_error(timestamp: str) -> None:
    headers = {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": timestamp}
    with pytest.raises(VerificationError):
        verify("POST", URL, headers, BODY, [SECRET], NOW)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-HubSpot-Signature-v3": "abc"},
        {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "yesterday"},
        {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "9" * 40},
        {"X-HubSpot-Signature": "abc", "X-HubSpot-Signature-Version": "v9"},
    ],
    ids=["none", "no-timestamp", "timestamp-not-a-number", "timestamp-overflow", "unknown-version"],
)
def test_every_malformed_header_ends_in_one_typed_error(headers: dict[str, str]) -> None:
    with pytest.raises(VerificationError):
        verify("POST", URL, headers, BODY, [SECRET], NOW)


def test_property_changes_and_creations_rescore_the_contact() -> None:
    events = parse(json.dumps([hubspot_event(1, 51), hubspot_event(2, 52, "contact.creation")]).encode())
    assert [(e.ref, e.kind) for e in events] == [
        (RecordRef("hubspot", "contact", "51"), EventKind.RESCORE),
        (RecordRef("hubspot", "contact", "52"), EventKind.RESCORE),
    ]
    assert events[0].changed_fields == ("jobtitle",)
    assert events[0].event_id == "hubspot:62515:1"


@pytest.mark.parametrize("kind", ["contact.deletion", "contact.privacyDeletion"])
def test_deletions_forget_the_contact(kind: str) -> None:
    [event] = parse(json.dumps([hubspot_event(3, 51, kind)]).encode())
    assert event.kind is EventKind.FORGET


def test_a_merge_rescores_the_survivor_and_forgets_the_merged() -> None:
    raw = hubspot_event(4, 51, "contact.merge", primaryObjectId=51, mergedObjectIds=[51, 77], newObjectId=51)
    events = parse(json.dumps([raw]).encode())
    assert {(e.ref.record_id, e.kind) for e in events} == {
        ("51", EventKind.RESCORE),
        ("77", EventKind.FORGET),
    }
    assert len({e.event_id for e in events}) == 2


def test_a_deal_stage_change_names_the_deal_and_other_deal_properties_are_ignored() -> None:
    stage = hubspot_event(5, 9001, "deal.propertyChange", propertyName="dealstage", propertyValue="closedwon")
    other = hubspot_event(6, 9001, "deal.propertyChange", propertyName="description", propertyValue="x")
    events = parse(json.dumps([stage, other]).encode())
    assert [e.ref for e in events] == [RecordRef("hubspot", "deal", "9001")]


def test_more_than_a_hundred_events_is_malformed() -> None:
    with pytest.raises(PayloadError, match="at most 100"):
        parse(json.dumps([hubspot_event(i, i) for i in range(101)]).encode())


def test_a_merge_of_a_thousand_contacts_fans_out_to_at_most_the_cap() -> None:
    merged = [*range(1000, 2000), 51]
    raw = hubspot_event(7, 51, "contact.merge", primaryObjectId=51, mergedObjectIds=merged, newObjectId=51)
    events = parse(json.dumps([raw]).encode())
    assert len(events) == 1 + MAX_MERGED_IDS
    assert events[0].ref.record_id == "51" and events[0].kind is EventKind.RESCORE
    assert [e.ref.record_id for e in events[1:]] == [str(n) for n in range(1000, 1000 + MAX_MERGED_IDS)]
    assert all(e.kind is EventKind.FORGET for e in events[1:])


def test_a_merge_listing_the_same_contact_twice_forgets_it_once() -> None:
    raw = hubspot_event(8, 51, "contact.merge", primaryObjectId=51, mergedObjectIds=[77, "77", 77])
    assert [e.ref.record_id for e in parse(json.dumps([raw]).encode())] == ["51", "77"]


@pytest.mark.parametrize(
    "extra",
    [
        {"mergedObjectIds": [[1]]},
        {"mergedObjectIds": [1.5]},
        {"mergedObjectIds": [True]},
        {"mergedObjectIds": [-3]},
        {"mergedObjectIds": "77"},
        {"primaryObjectId": {"id": 1}},
        {"newObjectId": [51]},
    ],
    ids=["list", "float", "bool", "negative", "string-not-list", "object-primary", "list-survivor"],
)
def test_a_merge_with_ids_of_the_wrong_type_is_malformed(extra: dict[str, Any]) -> None:
    raw = {**hubspot_event(9, 51, "contact.merge", primaryObjectId=51, mergedObjectIds=[77]), **extra}
    with pytest.raises(PayloadError):
        parse(json.dumps([raw]).encode())


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"not json",
        b"\xff\xfe[]",
        nested(100_000).encode(),
        ("[" + "9" * 5000 + "]").encode(),
        b"[1]",
        json.dumps([{"eventId": 1}]).encode(),
        json.dumps([hubspot_event(1, None)]).encode(),
    ],
    ids=["object", "not-json", "bad-utf8", "nested-100000", "huge-integer", "not-an-event", "no-type", "no-object-id"],
)
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse(body)


@pytest.fixture
def app_client(tmp_path: Path) -> tuple[Any, SqliteWorkQueue]:
    queue = SqliteWorkQueue(tmp_path / "q.db")
    route = HubSpotWebhookRoute([SECRET], clock=lambda: NOW)
    return create_app(
        AppConfig(queue, [route], proxy=ProxyPolicy(parse_trusted_proxies(["127.0.0.1"])))
    ).test_client(), queue


def _post(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(
        "/webhooks/hubspot",
        data=body,
        headers={**headers, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"},
    )


def test_the_route_answers_204_after_queueing_and_401_on_a_bad_signature(app_client: Any) -> None:
    client, queue = app_client
    assert _post(client, BODY, sign_v3(BODY, ms(NOW))).status_code == 204
    bad = _post(client, BODY, sign_v3(BODY, ms(NOW), secret="wrong"))
    assert bad.status_code == 401
    assert "does not match" in bad.get_json()["reason"]
    assert [i.event.event_id for i in queue.lease(10, 30)] == ["hubspot:62515:1"]


def test_odd_types_in_the_fields_leadtherm_only_reads_are_ignored_not_fatal() -> None:
    odd = hubspot_event(10, 51, propertyName=["jobtitle"], occurredAt="soon", sourceId=[1])
    generic = hubspot_event(11, 51, "object.propertyChange", objectTypeId=["0-1"])
    deal = hubspot_event(12, 9001, "deal.propertyChange", propertyName={"dealstage": 1})
    events = parse(json.dumps([odd, generic, deal]).encode())
    assert [(e.ref.record_id, e.changed_fields, e.occurred_at, e.actor) for e in events] == [("51", (), None, None)]


def test_a_captured_delivery_with_its_v3_headers_stripped_is_refused_401(app_client: Any) -> None:
    client, queue = app_client
    captured = {**sign_v3(BODY, ms(NOW - timedelta(hours=1))), **sign_v1(BODY)}  # HubSpot sends both
    stripped = {k: v for k, v in captured.items() if k not in ("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp")}
    for _ in range(3):
        answer = _post(client, BODY, stripped)
        assert answer.status_code == 401
        assert "not accepted" in answer.get_json()["reason"]
    assert queue.lease(10, 30) == []


@pytest.mark.parametrize("timestamp", ["\u00b2", "9" * 15, "\u0661\u0662"], ids=["superscript", "overflow", "arabic"])
def test_an_unreadable_timestamp_header_gets_401_never_500(app_client: Any, timestamp: str) -> None:
    client, _ = app_client
    headers = {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": timestamp}
    answer = _post(client, BODY, headers)
    assert answer.status_code == 401


def test_a_signed_but_malformed_body_gets_400_and_queues_nothing(app_client: Any) -> None:
    client, queue = app_client
    body = b'[{"eventId": "x"}]'
    assert _post(client, body, sign_v3(body, ms(NOW))).status_code == 400
    assert queue.lease(10, 30) == []


_header_names = st.sampled_from(
    [
        "X-HubSpot-Signature-v3",
        "X-HubSpot-Request-Timestamp",
        "X-HubSpot-Signature",
        "X-HubSpot-Signature-Version",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    headers=st.dictionaries(
        _header_names, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
    ),
    sign=st.booleans(),
)
def test_no_request_of_any_shape_gets_a_500(app_client: Any, body: bytes, headers: dict[str, str], sign: bool) -> None:
    client, _ = app_client
    if sign and body.decode("utf-8", errors="replace").encode() == body:  # HubSpot only signs UTF-8
        headers = {**headers, **sign_v3(body, ms(NOW))}
    answer = _post(client, body, headers)
    assert answer.status_code in {204, 400, 401}


def test_a_flood_of_forged_webhooks_costs_one_warning_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    minute = [0.0]
    route = HubSpotWebhookRoute([SECRET], clock=lambda: NOW)
    route.rejected.clock = lambda: minute[0]
    forged = InboundRequest("POST", URL, sign_v3(BODY, ms(NOW), secret="guess"), BODY)
    with caplog.at_level(logging.WARNING, logger="leadtherm.hubspot.inbound"):
        for _ in range(500):
            assert route.handle(forged, print).status == 401
        minute[0] = 61.0
        route.handle(forged, print)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "rejected HubSpot webhook(s): signature v3 does not match",
        "rejected 500 HubSpot webhook(s) since the last such line (latest: signature v3 does not match)",
    ]


def test_setup_tells_the_admin_only_v3_is_accepted_and_how_to_enable_v1() -> None:
    lines = "\n".join(webhook_instructions(load_mapping("hubspot")))
    assert "Only v3 signatures are accepted" in lines
    assert "HUBSPOT_ALLOW_LEGACY_SIGNATURES=v1" in lines
