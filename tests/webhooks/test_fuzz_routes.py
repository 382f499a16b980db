"""No malformed request gets a 500: signed, fuzzed requests to every route through the real waitress server."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.hubspot.inbound import MAX_MERGED_IDS
from tests.webhooks.fuzzing import (
    ALLOWED,
    ORG,
    SOAP_HEADERS,
    Served,
    callout_header,
    fuzz_route,
    hubspot_v3,
    outbound_path,
    served,
)

EXAMPLES_PER_ROUTE = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def _hubspot_url(server: Served) -> str:
    return server.base_url + "/webhooks/hubspot"


def _event(event_id: int, **fields: object) -> dict[str, object]:
    return {"eventId": event_id, "portalId": 62515, "subscriptionType": "contact.propertyChange", "objectId": 51,
            "occurredAt": int(time.time() * 1000), "propertyName": "jobtitle", **fields}  # fmt: skip


def _outbound(encoding: str = "UTF-8", record_id: str = "00Q5g000001AbCdEAK") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG}</OrganizationId>'
        '<Notification><Id>04l5g000000AbCdAAK</Id><sObject xsi:type="sf:Lead" '
        f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{record_id}</sf:Id></sObject></Notification>'
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def test_the_generators_sign_as_the_crms_do_so_a_well_formed_request_is_accepted(server: Served) -> None:
    body = json.dumps([_event(1)]).encode()
    assert server.post("/webhooks/hubspot", body, hubspot_v3(_hubspot_url(server), body)) == 204
    assert server.post(outbound_path(), _outbound(), SOAP_HEADERS) == 200
    flow = json.dumps({"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}]}).encode()
    assert server.post("/webhooks/salesforce/flow", flow, callout_header(flow)) == 202


@pytest.mark.parametrize("route", sorted(ALLOWED))
def test_hundreds_of_signed_malformed_requests_get_no_500(server: Served, route: str) -> None:
    tally: Counter[int] = Counter()
    fuzz_route(server, route, EXAMPLES_PER_ROUTE, tally)
    assert set(tally) <= ALLOWED[route]
    assert sum(tally.values()) >= EXAMPLES_PER_ROUTE // 2  # hypothesis really sent them
    assert tally[400] > 0  # the parser was reached, not only the verifier


def test_a_captured_hubspot_delivery_with_its_v3_headers_stripped_is_refused(server: Served) -> None:
    body = json.dumps([_event(2)]).encode()
    captured = hubspot_v3(_hubspot_url(server), body, int(time.time() * 1000) - 3_600_000)
    legacy = {"Content-Type": "application/json", "X-HubSpot-Signature": "0" * 64, "X-HubSpot-Signature-Version": "v1"}
    assert server.post("/webhooks/hubspot", body, captured) == 401  # an hour old
    assert server.post("/webhooks/hubspot", body, legacy) == 401  # its v3 stripped: no fallback


def _raw_post(server: Served, path: str, headers: list[bytes], body: bytes, host: bytes | None = None) -> int:
    """A request whose header bytes no well-behaved client library would send."""
    address, port = server.base_url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: " + (host if host is not None else f"{address}:{port}".encode()),
             f"Content-Length: {len(body)}".encode(), b"Connection: close", *headers]  # fmt: skip
    with socket.create_connection((address, int(port)), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "timestamp",
    ["\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660".encode(), b"\xb2", b"9" * 15],
    ids=["arabic-indic-utf8", "latin1-superscript", "year-overflow"],
)
def test_unreadable_timestamps_get_401_from_the_real_server(server: Served, timestamp: bytes) -> None:
    body = json.dumps([_event(3)]).encode()
    headers = [b"X-HubSpot-Signature-v3: abc", b"X-HubSpot-Request-Timestamp: " + timestamp]
    assert _raw_post(server, "/webhooks/hubspot", headers, body) == 401
    flow = b'{"records": []}'
    assert (
        _raw_post(server, "/webhooks/salesforce/flow", [b"X-Leadtherm-Signature: t=" + timestamp + b",v1=0"], flow)
        == 401
    )


@pytest.mark.parametrize("host", [b"[abc", b"a]b", b"\xff\xfe", b"h:99999", b"", b"[::1"])
def test_a_host_header_no_url_parser_accepts_still_gets_an_answer_not_a_500(server: Served, host: bytes) -> None:
    body = _outbound()
    hubspot = json.dumps([_event(5)]).encode()
    for path, payload in ((outbound_path(), body), ("/webhooks/hubspot", hubspot)):
        status = _raw_post(server, path, [b"X-Forwarded-Host: " + host], payload, host=host)
        assert status < 500


def test_an_outbound_message_declaring_an_unknown_encoding_gets_400(server: Served) -> None:
    assert server.post(outbound_path(), _outbound("x-foo"), SOAP_HEADERS) == 400


def test_json_nested_a_thousand_deep_gets_400_on_both_json_routes(server: Served) -> None:
    body = b"[" * 1000 + b"]" * 1000
    assert server.post("/webhooks/hubspot", body, hubspot_v3(_hubspot_url(server), body)) == 400
    assert server.post("/webhooks/salesforce/flow", body, callout_header(body)) == 400


def test_a_merge_of_a_thousand_contacts_queues_the_survivor_and_at_most_the_cap(tmp_path: Path) -> None:
    with served(tmp_path) as fresh:
        merge = _event(4, subscriptionType="contact.merge", primaryObjectId=51, mergedObjectIds=list(range(1000, 2000)))
        body = json.dumps([merge]).encode()
        assert fresh.post("/webhooks/hubspot", body, hubspot_v3(_hubspot_url(fresh), body)) == 204
        assert len(fresh.queue.lease(5000, 30)) == 1 + MAX_MERGED_IDS


def test_through_the_server_three_callouts_after_three_changes_are_three_events_and_a_redelivery_is_none(
    tmp_path: Path,
) -> None:
    with served(tmp_path) as fresh:
        body = json.dumps({"records": [{"object": "Lead", "id": "00Q5g000001AbCdEAK"}]}).encode()
        now = int(time.time())
        for change in range(3):  # the same documented body after each change, signed when sent
            assert fresh.post("/webhooks/salesforce/flow", body, callout_header(body, now - 2 + change)) == 202
        assert fresh.post("/webhooks/salesforce/flow", body, callout_header(body, now)) == 202  # redelivered
        leased = fresh.queue.lease(100, 30)
        assert len(leased) == 3
        assert len({item.event.event_id for item in leased}) == 3
