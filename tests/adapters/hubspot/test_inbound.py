"""HubSpot webhook verification and event mapping, against HubSpot's documented wire format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.hubspot.inbound import HubSpotWebhookRoute, parse, signed_uri, verify
from adapters.sqlite import SqliteWorkQueue
from integration.errors import PayloadError, VerificationError
from integration.ports import EventKind, RecordRef
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


def test_an_older_app_signing_with_v1_is_accepted() -> None:
    verify("POST", URL, sign_v1(BODY), BODY, [SECRET], NOW)


def test_when_v3_headers_are_present_a_valid_v1_signature_cannot_rescue_a_stale_request() -> None:
    headers = {**sign_v3(BODY, ms(NOW - timedelta(hours=1))), **sign_v1(BODY)}
    with pytest.raises(VerificationError, match="older"):
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


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"not json",
        b"[1]",
        json.dumps([{"eventId": 1}]).encode(),
        json.dumps([hubspot_event(1, None)]).encode(),
    ],
    ids=["object", "not-json", "not-an-event", "no-type", "no-object-id"],
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
