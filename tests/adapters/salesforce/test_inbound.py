"""Salesforce outbound messages and flow callouts: parsing, verification and attacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.salesforce.inbound import (
    FlowCalloutRoute,
    OutboundMessageRoute,
    callout_signature,
    parse_outbound,
    verify_callout,
)
from adapters.sqlite import SqliteWorkQueue
from integration.errors import PayloadError, VerificationError
from integration.ports import RecordRef
from webhooks.app import AppConfig, create_app

ORG = "00D5g000004XyZaEAK"
OBJECTS = ("Lead", "Contact")
SECRET = "callout-secret"
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
    routes = [OutboundMessageRoute(ORG, OBJECTS), FlowCalloutRoute([SECRET], OBJECTS, clock=lambda: NOW)]
    return create_app(AppConfig(queue, routes)).test_client(), queue


SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def test_the_ack_comes_only_after_the_notification_is_queued(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, queue = app
    answer = client.post("/webhooks/salesforce", data=ONE, headers=SOAP_HEADERS)
    assert answer.status_code == 200
    assert b"<Ack>true</Ack>" in answer.data
    assert [i.event.event_id for i in queue.lease(10, 30)] == ["salesforce:04l5g000000AbCdAAK"]


@pytest.mark.parametrize("body", [XXE, LAUGHS, EXTERNAL_DTD, b"<broken"], ids=["xxe", "laughs", "dtd", "malformed"])
def test_attacks_get_a_soap_fault_never_an_ack_and_leak_nothing(app: tuple[Any, SqliteWorkQueue], body: bytes) -> None:
    client, queue = app
    answer = client.post("/webhooks/salesforce", data=body, headers=SOAP_HEADERS)
    assert answer.status_code == 400
    assert b"<soapenv:Fault>" in answer.data and b"Ack" not in answer.data
    assert b"root:" not in answer.data  # /etc/passwd
    assert queue.lease(10, 30) == []


def test_a_foreign_org_gets_a_401_fault(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, queue = app
    body = outbound_message([("04l5g000000AbCdAAK", "Lead", "00Q5g000001AbCdEAK")], org="00D000000000001AAA")
    answer = client.post("/webhooks/salesforce", data=body, headers=SOAP_HEADERS)
    assert answer.status_code == 401
    assert b"<soapenv:Fault>" in answer.data
    assert queue.lease(10, 30) == []


def test_a_body_over_one_mebibyte_gets_413(app: tuple[Any, SqliteWorkQueue]) -> None:
    client, _ = app
    assert client.post("/webhooks/salesforce", data=b" " * (1024 * 1024 + 1), headers=SOAP_HEADERS).status_code == 413


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
    path=st.sampled_from(["/webhooks/salesforce", "/webhooks/salesforce/flow"]),
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
