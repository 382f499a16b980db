"""Salesforce outbound messages and flow callouts: parsing, verification and attacks."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.field_setup import outbound_instructions
from adapters.salesforce.inbound import (
    FlowCalloutRoute,
    OutboundMessageRoute,
    callout_signature,
    outbound_endpoint,
    parse_callout,
    parse_outbound,
    url_secrets,
    verify_callout,
    verify_url_secret,
)
from adapters.salesforce.plugin import plugin
from adapters.salesforce.session_check import UserinfoSessionCheck
from adapters.sqlite import SqliteWorkQueue
from integration.errors import PayloadError, VerificationError
from integration.ports import ChangeEvent, RecordRef
from integration.ports.inbound import InboundRequest, InboundRoute, WebhookSettingError
from mappings.loader import load_mapping
from tests.adapters.salesforce.conftest import password_env
from webhooks.app import AppConfig, create_app

ORG = "00D5g000004XyZaEAK"
OBJECTS = ("Lead", "Contact")
SECRET = "callout-secret"
URL_SECRET = "url-secret-0123456789abcdef"
ENDPOINT = f"/webhooks/salesforce?key={URL_SECRET}"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def outbound_message(notifications: list[tuple[str, str, str]], org: str = ORG, prolog: str = "") -> bytes:
    """An outbound message as Salesforce sends it: (notification Id, sObject type, record Id)."""
    items = "".join(
        f"""<Notification><Id>{nid}</Id>
        <sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
          <sf:Id>{rid}</sf:Id><sf:LastModifiedById>005000000000001AAA</sf:LastModifiedById>
        </sObject></Notification>"""
        for nid, kind, rid in notifications
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>{prolog}
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000XyZaAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0/00D5g000004XyZa</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0/00D5g000004XyZa</PartnerUrl>
   {items}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


ONE = outbound_message([("04l5g000000AbCdAAK", "Lead", "00Q5g000001AbCdEAK")])


def test_an_outbound_message_becomes_one_event_per_notification() -> None:
    body = outbound_message(
        [
            ("04l5g000000AbCdAAK", "Lead", "00Q5g000001AbCdEAK"),
            ("04l5g000000AbCeAAK", "Contact", "0035g000001AbCdAAC"),
        ]
    )
    events = parse_outbound(body, ORG, OBJECTS)
    assert [e.ref for e in events] == [
        RecordRef("salesforce", "Lead", "00Q5g000001AbCdEAK"),
        RecordRef("salesforce", "Contact", "0035g000001AbCdAAC"),
    ]
    assert events[0].event_id == "salesforce:04l5g000000AbCdAAK"
    assert events[0].actor == "005000000000001AAA"


def test_the_fifteen_character_org_id_an_admin_copied_also_matches() -> None:
    assert parse_outbound(ONE, ORG[:15], OBJECTS)


def test_a_message_from_another_org_is_refused() -> None:
    with pytest.raises(VerificationError, match="OrganizationId"):
        parse_outbound(
            outbound_message([("04l5g000000AbCdAAK", "Lead", "00Q5g000001AbCdEAK")], org="00D000000000001AAA"),
            ORG,
            OBJECTS,
        )


XXE = outbound_message(
    [("04l5g000000AbCdAAK", "Lead", "&xxe;")],
    prolog='<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
)
LAUGHS = outbound_message(
    [("04l5g000000AbCdAAK", "Lead", "&lol3;")],
    prolog='<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>',
)
EXTERNAL_DTD = outbound_message(
    [("04l5g000000AbCdAAK", "Lead", "00Q5g000001AbCdEAK")],
    prolog='<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">',
)


@pytest.mark.parametrize("body", [XXE, LAUGHS, EXTERNAL_DTD], ids=["xxe-file", "billion-laughs", "external-dtd"])
def test_xml_attacks_are_refused_before_anything_is_read(body: bytes) -> None:
    with pytest.raises(PayloadError, match="forbidden XML construct"):
        parse_outbound(body, ORG, OBJECTS)


@pytest.mark.parametrize(
    "body",
    [
        b"<notifications",
        b"<a/>",
        b"not xml at all",
        ONE.replace(b"sf:Lead", b"sf:Account"),
        ONE.replace(b"00Q5g000001AbCdEAK", b"x"),
    ],
    ids=["truncated", "no-notifications", "text", "unmapped-object", "bad-id"],
)
def test_malformed_messages_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_outbound(body, ORG, OBJECTS)


def _signed(body: bytes, at: datetime = NOW, secret: str = SECRET) -> str:
    t = int(at.timestamp())
    return f"t={t},v1={callout_signature(secret, t, body)}"


CALLOUT = json.dumps({"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}]}).encode()


def test_a_signed_callout_verifies_and_rotation_accepts_either_signature() -> None:
    verify_callout(_signed(CALLOUT), CALLOUT, [SECRET], NOW)
    t = int(NOW.timestamp())
    both = f"t={t},v1={callout_signature('old', t, CALLOUT)},v1={callout_signature('new', t, CALLOUT)}"
    verify_callout(both, CALLOUT, ["new"], NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        "t=abc,v1=abc",
        "t=1,t=2,v1=abc",
        _signed(CALLOUT, NOW - timedelta(minutes=6)),
        _signed(CALLOUT, NOW + timedelta(minutes=6)),
        _signed(CALLOUT, secret="wrong"),
    ],
    ids=["missing", "empty", "no-t", "t-not-a-number", "two-t", "stale", "future", "wrong-secret"],
)
def test_bad_or_stale_callout_signatures_are_refused(header: str | None) -> None:
    with pytest.raises(VerificationError):
        verify_callout(header, CALLOUT, [SECRET], NOW)


@pytest.fixture
def app(tmp_path: Path) -> tuple[Any, SqliteWorkQueue]:
    queue = SqliteWorkQueue(tmp_path / "q.db")
    routes: list[InboundRoute] = [
        OutboundMessageRoute(ORG, OBJECTS, [URL_SECRET]),
        FlowCalloutRoute([SECRET], OBJECTS, clock=lambda: NOW),
    ]
    return create_app(AppConfig(queue, routes)).test_client(), queue


SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def test_the_ack_comes_only_after_the_notification_is_queued(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, queue = app
    answer = client.post(ENDPOINT, data=ONE, headers=SOAP_HEADERS)
    assert answer.status_code == 200
    assert b"<Ack>true</Ack>" in answer.data
    assert [i.event.event_id for i in queue.lease(10, 30)] == ["salesforce:04l5g000000AbCdAAK"]


@pytest.mark.parametrize("body", [XXE, LAUGHS, EXTERNAL_DTD, b"<broken"], ids=["xxe", "laughs", "dtd", "malformed"])
def test_attacks_get_a_soap_fault_never_an_ack_and_leak_nothing(app: tuple[Any, SqliteWorkQueue], body: bytes) -> None:
    client, queue = app
    answer = client.post(ENDPOINT, data=body, headers=SOAP_HEADERS)
    assert answer.status_code == 400
    assert b"<soapenv:Fault>" in answer.data and b"Ack" not in answer.data
    assert b"root:" not in answer.data  # /etc/passwd
    assert queue.lease(10, 30) == []


def test_a_foreign_org_gets_a_401_fault(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, queue = app
    body = outbound_message([("04l5g000000AbCdAAK", "Lead", "00Q5g000001AbCdEAK")], org="00D000000000001AAA")
    answer = client.post(ENDPOINT, data=body, headers=SOAP_HEADERS)
    assert answer.status_code == 401
    assert b"<soapenv:Fault>" in answer.data
    assert queue.lease(10, 30) == []


def test_a_body_over_one_mebibyte_gets_413(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, _ = app
    assert client.post(ENDPOINT, data=b" " * (1024 * 1024 + 1), headers=SOAP_HEADERS).status_code == 413


def test_a_signed_flow_callout_is_queued_and_answered_202(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, queue = app
    answer = client.post("/webhooks/salesforce/flow", data=CALLOUT, headers={"X-Leadtherm-Signature": _signed(CALLOUT)})
    assert answer.status_code == 202
    assert answer.get_json() == {"queued": 1}
    [item] = queue.lease(10, 30)
    assert item.event.ref == RecordRef("salesforce", "Lead", "00Q5g000001AbCdEAK")
    stale = client.post(
        "/webhooks/salesforce/flow",
        data=CALLOUT,
        headers={"X-Leadtherm-Signature": _signed(CALLOUT, NOW - timedelta(hours=1))},
    )
    assert stale.status_code == 401


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from([ENDPOINT, "/webhooks/salesforce", "/webhooks/salesforce/flow"]),
    body=st.one_of(
        st.binary(max_size=400),
        st.sampled_from([ONE, XXE, LAUGHS, CALLOUT]).map(lambda b: b[: len(b) // 2]),
        st.text(max_size=200).map(lambda t: outbound_message([("04l5g000000AbCdAAK", "Lead", t)])),
    ),
    header=st.one_of(st.none(), st.text(max_size=80)),
)
def test_no_request_of_any_shape_gets_a_500(
    app: tuple[Any, SqliteWorkQueue], path: str, body: bytes, header: str | None
) -> None:
    client, _ = app
    headers = {"X-Leadtherm-Signature": header} if header and header.isprintable() and header.isascii() else {}
    answer = client.post(path, data=body, headers=headers)
    assert answer.status_code < 500
    assert b"<Ack>true</Ack>" not in answer.data or body.startswith(b"<?xml")


# ---------------------------------------------------------------- the secret in the endpoint URL


def test_a_forged_outbound_message_without_the_url_secret_is_refused_before_its_xml_is_read(
    app: tuple[Any, SqliteWorkQueue],
) -> None:
    client, queue = app
    for body in (ONE, XXE):  # the org id is public: a well-formed forgery must fail like an attack
        answer = client.post("/webhooks/salesforce", data=body, headers=SOAP_HEADERS)
        assert answer.status_code == 401
        assert b"<soapenv:Fault>" in answer.data and b"key=" in answer.data
    assert queue.lease(10, 30) == []


@pytest.mark.parametrize(
    "query",
    [
        "key=wrong-secret-0123456789",
        f"key={URL_SECRET}x",
        f"key={URL_SECRET}&key={URL_SECRET}",
        "key=",
        f"KEY={URL_SECRET}",
    ],
    ids=["wrong", "longer", "twice", "empty", "other-name"],
)
def test_an_outbound_message_with_a_wrong_url_secret_gets_a_401_fault(
    app: tuple[Any, SqliteWorkQueue], query: str
) -> None:
    client, queue = app
    answer = client.post(f"/webhooks/salesforce?{query}", data=ONE, headers=SOAP_HEADERS)
    assert answer.status_code == 401
    assert b"<Ack>" not in answer.data
    assert queue.lease(10, 30) == []


def test_during_a_rotation_either_url_secret_is_accepted() -> None:
    route = OutboundMessageRoute(ORG, OBJECTS, ["new-secret-0123456789", URL_SECRET])
    for secret in ("new-secret-0123456789", URL_SECRET):
        request = InboundRequest("POST", outbound_endpoint("https://hooks.example.com", secret), {}, ONE)
        assert route.handle(request, lambda events: None).status == 200


def test_with_no_url_secret_configured_every_outbound_message_is_refused_and_the_reason_names_the_setting() -> None:
    route = OutboundMessageRoute(ORG, OBJECTS, [])
    answer = route.handle(InboundRequest("POST", "https://h.example/webhooks/salesforce?key=x", {}, ONE), print)
    assert answer.status == 401
    assert b"SALESFORCE_OUTBOUND_SECRET" in answer.body


def test_the_endpoint_url_setup_prints_is_the_one_the_route_accepts() -> None:
    url = outbound_endpoint("https://hooks.example.com/", URL_SECRET)
    assert url == f"https://hooks.example.com/webhooks/salesforce?key={URL_SECRET}"
    verify_url_secret(url, [URL_SECRET])
    lines = "\n".join(outbound_instructions(load_mapping("salesforce"), URL_SECRET))
    assert f"/webhooks/salesforce?key={URL_SECRET}" in lines
    unset = "\n".join(outbound_instructions(load_mapping("salesforce"), None))
    assert "SALESFORCE_OUTBOUND_SECRET" in unset and "run setup again" in unset


def test_setup_asks_for_the_opportunity_message_when_contacts_read_their_converted_opportunity() -> None:
    lines = "\n".join(outbound_instructions(load_mapping("salesforce"), URL_SECRET))
    assert "Also on Opportunity" in lines and "when IsWon changes" in lines
    assert "/data/OpportunityChangeEvent" in lines


def test_an_outbound_message_about_an_opportunity_is_an_event_on_that_opportunity() -> None:
    body = outbound_message([("04l5g000000AbCeAAK", "Opportunity", "0065g000001AbCdEAK")])
    [event] = parse_outbound(body, ORG, OBJECTS)
    assert event.ref == RecordRef("salesforce", "Opportunity", "0065g000001AbCdEAK")


@pytest.mark.parametrize("setting", ["short", "has space in it 0123456789", "ümlaut-0123456789abc", "a" * 15])
def test_a_weak_or_unpasteable_url_secret_is_a_setting_error_naming_the_variable(setting: str) -> None:
    with pytest.raises(WebhookSettingError, match="SALESFORCE_OUTBOUND_SECRET"):
        url_secrets(setting)


def test_the_plugin_reads_the_url_secrets_and_leaves_the_session_check_off_by_default() -> None:
    env = {"SALESFORCE_ORG_ID": ORG, "SALESFORCE_OUTBOUND_SECRET": f"{URL_SECRET}, other-secret-0123456789"}
    outbound, flow = plugin.routes(load_mapping("salesforce"), env)
    assert isinstance(outbound, OutboundMessageRoute) and isinstance(flow, FlowCalloutRoute)
    assert outbound.secrets == [URL_SECRET, "other-secret-0123456789"]
    assert outbound.session_check is None
    with pytest.raises(WebhookSettingError, match="SALESFORCE_OUTBOUND_VERIFY_SESSION"):
        plugin.routes(load_mapping("salesforce"), {**env, "SALESFORCE_OUTBOUND_VERIFY_SESSION": "maybe"})


# ---------------------------------------------------------------- malformed requests that used to be 500s


@pytest.mark.parametrize("encoding", ["x-foo", "utf-7", "bogus-\u00e9", "utf-16"])
def test_an_unknown_or_wrong_xml_encoding_declaration_is_a_400_fault(
    app: tuple[Any, SqliteWorkQueue], encoding: str
) -> None:
    client, _ = app
    body = ONE.replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    answer = client.post(ENDPOINT, data=body, headers=SOAP_HEADERS)
    assert answer.status_code == 400
    assert b"<soapenv:Fault>" in answer.data


@pytest.mark.parametrize(
    "timestamp",
    ["\u00b2", "\u0661\u0662\u0663", "9" * 12, "9" * 13, "-1", " 1"],
    ids=["superscript", "arabic-indic", "year-overflow", "too-long", "negative", "space"],
)
def test_every_unreadable_callout_timestamp_is_a_verification_error(timestamp: str) -> None:
    with pytest.raises(VerificationError):
        verify_callout(f"t={timestamp},v1=abc", CALLOUT, [SECRET], NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"records": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"records": [{"object": ["Lead"], "id": "00Q5g000001AbCdEAK"}]}',
        b'{"records": [{"object": {"a": 1}, "id": "00Q5g000001AbCdEAK"}]}',
        b'{"records": [{"object": "Lead", "id": 7}]}',
        b'{"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}], "callout_id": 5}',
        b'{"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}], "callout_id": "has space"}',
        b'{"records": [["Lead"]]}',
        b'{"records": {"object": "Lead"}}',
        b"\xff\xfe\x00",
    ],
    ids=["nested", "nested-records", "object-list", "object-dict", "id-int", "callout-id-int", "callout-id-space",
         "record-list", "records-object", "bad-utf"],
)  # fmt: skip
def test_a_signed_callout_with_a_malformed_body_gets_400(app: tuple[Any, SqliteWorkQueue], body: bytes) -> None:
    client, queue = app
    answer = client.post("/webhooks/salesforce/flow", data=body, headers={"X-Leadtherm-Signature": _signed(body)})
    assert answer.status_code == 400
    assert queue.lease(10, 30) == []


# ---------------------------------------------------------------- flow callouts: the key identifies the request


def _callout(client: Any, body: bytes, at: datetime) -> int:
    status: int = client.post(
        "/webhooks/salesforce/flow", data=body, headers={"X-Leadtherm-Signature": _signed(body, at)}
    ).status_code
    return status


def _flow_app(tmp_path: Path, now: list[datetime]) -> tuple[Any, SqliteWorkQueue]:
    queue = SqliteWorkQueue(tmp_path / "flow.db")
    route = FlowCalloutRoute([SECRET], OBJECTS, clock=lambda: now[0])
    return create_app(AppConfig(queue, [route])).test_client(), queue


def test_three_callouts_for_the_same_record_after_three_changes_are_three_events(tmp_path: Path) -> None:
    now = [NOW]
    client, queue = _flow_app(tmp_path, now)
    for second in range(3):  # the documented body is the same for every change to the record
        now[0] = NOW + timedelta(seconds=second * 20)
        assert _callout(client, CALLOUT, now[0]) == 202
    leased = queue.lease(10, 30)
    assert len({item.event.event_id for item in leased}) == 3
    assert {item.event.ref.record_id for item in leased} == {"00Q5g000001AbCdEAK"}


def test_the_exact_same_callout_delivered_twice_is_one_event(tmp_path: Path) -> None:
    client, queue = _flow_app(tmp_path, [NOW])
    header = {"X-Leadtherm-Signature": _signed(CALLOUT)}
    for _ in range(2):
        assert client.post("/webhooks/salesforce/flow", data=CALLOUT, headers=header).status_code == 202
    assert len(queue.lease(10, 30)) == 1


def test_a_callout_id_tells_two_changes_in_the_same_second_apart_and_names_a_redelivery() -> None:
    t = int(NOW.timestamp())

    def body(callout_id: str) -> bytes:
        return json.dumps(
            {"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}], "callout_id": callout_id}
        ).encode()

    first, second = parse_callout(body("a1"), OBJECTS, t), parse_callout(body("b2"), OBJECTS, t)
    resent = parse_callout(body("a1"), OBJECTS, t + 60)  # the flow re-signed a retry of the same callout
    assert first[0].event_id != second[0].event_id
    assert first[0].event_id == resent[0].event_id == "salesforce:flow:id:a1:0"


def test_without_a_callout_id_the_signed_timestamp_keys_the_callout() -> None:
    t = int(NOW.timestamp())
    ids = {parse_callout(CALLOUT, OBJECTS, stamp)[0].event_id for stamp in (t, t, t + 1)}
    assert len(ids) == 2


def test_enqueued_flow_events_name_each_record_of_the_callout() -> None:
    body = json.dumps({"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"},
                                   {"object": "Contact", "id": "0035g000001AbCdAAC"}]}).encode()  # fmt: skip
    queued: list[ChangeEvent] = []
    route = FlowCalloutRoute([SECRET], OBJECTS, clock=lambda: NOW)
    answer = route.handle(InboundRequest("POST", "http://h/webhooks/salesforce/flow",
                                         {"X-Leadtherm-Signature": _signed(body)}, body), queued.extend)  # fmt: skip
    assert answer.status == 202
    assert [e.ref.object_type for e in queued] == ["Lead", "Contact"]
    assert len({e.event_id for e in queued}) == 2


# ---------------------------------------------------------------- optional SessionId check (real sandbox, real HTTPS)


def _outbound_request(sandbox: SalesforceSandbox, record_id: str = "00Q5g000001AbCdEAK") -> InboundRequest:
    body = sandbox.outbound_body([{"Id": "04l5g000000AbCdAAK", "type": "Lead", "values": {"Id": record_id}}])
    return InboundRequest("POST", outbound_endpoint("https://hooks.example.com", URL_SECRET), {}, body)


def _checked_route(sandbox: SalesforceSandbox, instance: str | None = None) -> tuple[OutboundMessageRoute, Any]:
    check = UserinfoSessionCheck(lambda: instance or sandbox.base_url, sandbox.org_id)
    return OutboundMessageRoute(sandbox.org_id, OBJECTS, [URL_SECRET], check), check


def test_with_the_session_check_on_a_message_with_a_live_session_of_the_org_is_acked_once_asked(
    sandbox: SalesforceSandbox,
) -> None:
    sandbox.configure_outbound("http://127.0.0.1:9/unused", send_session_id=True)
    sandbox.outbound_url = None  # deliver by hand
    route, check = _checked_route(sandbox)
    queued: list[ChangeEvent] = []
    for _ in range(3):
        assert route.handle(_outbound_request(sandbox), queued.extend).status == 200
    assert len(queued) == 3
    assert check.calls == 1  # the verified session is remembered


def test_with_the_session_check_on_a_forged_session_id_is_refused(sandbox: SalesforceSandbox) -> None:
    sandbox.outbound_session = f"{sandbox.org_id}!forged"
    route, check = _checked_route(sandbox)
    answer = route.handle(_outbound_request(sandbox), print)
    assert answer.status == 401 and b"not a live session" in answer.body
    assert check.calls == 1


def test_with_the_session_check_on_a_message_without_a_session_id_is_refused(sandbox: SalesforceSandbox) -> None:
    route, check = _checked_route(sandbox)  # "Send Session ID" not ticked
    answer = route.handle(_outbound_request(sandbox), print)
    assert answer.status == 401 and b"Send Session ID" in answer.body
    assert check.calls == 0


def test_a_live_session_of_another_org_is_refused(sandbox: SalesforceSandbox) -> None:
    sandbox.configure_outbound("http://127.0.0.1:9/unused", send_session_id=True)
    sandbox.outbound_url = None
    check = UserinfoSessionCheck(lambda: sandbox.base_url, "00D000000000001AAA")
    route = OutboundMessageRoute(sandbox.org_id, OBJECTS, [URL_SECRET], check)
    answer = route.handle(_outbound_request(sandbox), print)
    assert answer.status == 401 and b"another org" in answer.body


def test_when_salesforce_cannot_be_asked_the_message_gets_a_503_so_it_is_delivered_again(
    sandbox: SalesforceSandbox,
) -> None:
    sandbox.configure_outbound("http://127.0.0.1:9/unused", send_session_id=True)
    sandbox.outbound_url = None
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    route, _ = _checked_route(sandbox, instance=f"https://127.0.0.1:{port}")
    queued: list[ChangeEvent] = []
    answer = route.handle(_outbound_request(sandbox), queued.extend)
    assert answer.status == 503 and b"<soapenv:Fault>" in answer.body
    assert queued == []


def test_the_plugin_checks_sessions_on_the_instance_it_logs_in_to(sandbox: SalesforceSandbox) -> None:
    sandbox.configure_outbound("http://127.0.0.1:9/unused", send_session_id=True)
    sandbox.outbound_url = None
    env = {
        **password_env(sandbox),
        "SALESFORCE_OUTBOUND_SECRET": URL_SECRET,
        "SALESFORCE_OUTBOUND_VERIFY_SESSION": "true",
    }
    [outbound] = [r for r in plugin.routes(load_mapping("salesforce"), env) if isinstance(r, OutboundMessageRoute)]
    assert outbound.handle(_outbound_request(sandbox), print).status == 200
    sandbox.outbound_session = "00D5g000004XyZaEAK!not-issued"
    assert outbound.handle(_outbound_request(sandbox), print).status == 401
