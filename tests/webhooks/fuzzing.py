"""Correctly signed, malformed webhook requests for every route, sent to the real waitress server.

Shared by tests/webhooks/test_fuzz_routes.py (a few hundred cases per route) and
bench/fuzz_routes.py (the long run). Each generator signs what it sends the way the CRM
would, so the request gets past verification and its body reaches the parser; a small
share carries malformed signature headers instead, to reach the header parsers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import requests
import waitress
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from adapters.hubspot.inbound import HubSpotWebhookRoute, signed_uri
from adapters.salesforce.inbound import FlowCalloutRoute, OutboundMessageRoute, callout_signature
from adapters.sqlite import SqliteWorkQueue
from integration.ports.inbound import InboundRoute
from webhooks.app import AppConfig, create_app

HUBSPOT_SECRET = "fuzz-client-secret"
CALLOUT_SECRET = "fuzz-callout-secret"
URL_SECRET = "fuzz-url-secret-0123456789"
ORG = "00D5g000004XyZaEAK"
OBJECTS = ("Lead", "Contact")
# What each route may answer to anything at all; a 5xx is a bug (the queue is healthy here).
ALLOWED = {
    "hubspot": {204, 400, 401},
    "outbound": {200, 400, 401},
    "flow": {202, 400, 401},
}


@dataclass
class Served:
    """The webhook app with the three CRM routes, on waitress on an ephemeral port."""

    base_url: str
    queue: SqliteWorkQueue
    session: requests.Session

    def post(self, path: str, body: bytes, headers: dict[str, Any]) -> int:
        answer = self.session.post(self.base_url + path, data=body, headers=headers, timeout=30)
        return answer.status_code


@contextmanager
def served(folder: Path, threads: int = 4) -> Iterator[Served]:
    queue = SqliteWorkQueue(folder / "fuzz.db")
    routes: list[InboundRoute] = [
        HubSpotWebhookRoute([HUBSPOT_SECRET]),
        OutboundMessageRoute(ORG, OBJECTS, [URL_SECRET]),
        FlowCalloutRoute([CALLOUT_SECRET], OBJECTS),
    ]
    server: Any = waitress.create_server(
        create_app(AppConfig(queue, routes)), host="127.0.0.1", port=0, threads=threads, ident="leadtherm"
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    session = requests.Session()
    try:
        yield Served(f"http://127.0.0.1:{server.effective_port}", queue, session)
    finally:
        session.close()
        server.close()


# ---------------------------------------------------------------- signing, as the CRMs do


def hubspot_v3(url: str, body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    message = f"POST{signed_uri(url)}{body.decode('utf-8')}{stamp}".encode()
    digest = hmac.new(HUBSPOT_SECRET.encode(), message, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def callout_header(body: bytes, at: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if at is None else at
    return {
        "Content-Type": "application/json",
        "X-Leadtherm-Signature": f"t={stamp},v1={callout_signature(CALLOUT_SECRET, stamp, body)}",
    }


SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def outbound_path() -> str:
    return f"/webhooks/salesforce?key={URL_SECRET}"


# ---------------------------------------------------------------- building blocks

_big_ints = st.integers(min_value=-(2**80), max_value=2**80)
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    _big_ints,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    _leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=10,
)
# JSON that Python's parser chokes on in ways other than a syntax error.
_pathological_json = st.sampled_from(
    [
        b"[" * 1000 + b"]" * 1000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"[" + b"9" * 5000 + b"]",
        b"[NaN, Infinity, -Infinity, 1e400]",
        b'["\\ud800"]',
        b"\xef\xbb\xbf[]",
        "[\u0661\u0662]".encode(),
    ]
)
_salesforce_ids = st.one_of(
    st.sampled_from(["00Q5g000001AbCdEAK", "0035g000001AbCdAAC", "00Q5g000001AbCd"]),
    st.text(max_size=20),
    st.text(alphabet="abcXYZ019", min_size=15, max_size=18),
)
_odd_timestamps: st.SearchStrategy[bytes] = st.one_of(
    st.sampled_from(
        [
            "\u0661\u0667\u0660\u0660".encode(),  # Arabic-Indic digits, as UTF-8 bytes
            "\u00b2".encode("latin-1"),
            b"9" * 15,
            b"9" * 40,
            b"-1",
            b"1e12",
            b"0x10",
            b"",
        ]
    ),
    # Any bytes a client can put into a header line (requests refuses CR, LF and leading blanks).
    st.binary(max_size=20).filter(lambda b: re.fullmatch(rb"[^\s\x00][^\r\n\x00]*", b) is not None),
)


def _json_body(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------- HubSpot

_hubspot_kinds = st.one_of(
    st.sampled_from(
        [
            "contact.creation",
            "contact.propertyChange",
            "contact.deletion",
            "contact.privacyDeletion",
            "contact.merge",
            "contact.restore",
            "deal.creation",
            "deal.propertyChange",
            "object.propertyChange",
            "object.creation",
            "company.creation",
        ]
    ),
    json_values,
)
_hubspot_ids = st.one_of(st.integers(min_value=0, max_value=10**18), _big_ints, st.text(max_size=20), json_values)
hubspot_events = st.fixed_dictionaries(
    {"subscriptionType": _hubspot_kinds},
    optional={
        "eventId": _hubspot_ids,
        "portalId": _hubspot_ids,
        "objectId": _hubspot_ids,
        "occurredAt": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), json_values),
        "propertyName": st.one_of(st.sampled_from(["jobtitle", "dealstage", "amount"]), json_values),
        "propertyValue": json_values,
        "sourceId": json_values,
        "objectTypeId": st.one_of(st.sampled_from(["0-1", "0-3", "0-2"]), json_values),
        "primaryObjectId": _hubspot_ids,
        "newObjectId": _hubspot_ids,
        "mergedObjectIds": st.one_of(st.lists(_hubspot_ids, max_size=300), json_values),
        "attemptNumber": json_values,
    },
)
_hubspot_bodies = st.one_of(
    st.builds(_json_body, st.lists(st.one_of(hubspot_events, json_values), max_size=6), st.booleans()),
    st.builds(_json_body, st.lists(hubspot_events, min_size=99, max_size=102), st.just(True)),
    st.builds(_json_body, json_values, st.booleans()),
    _pathological_json,
    st.text(max_size=100).map(str.encode),
)


@st.composite
def hubspot_requests(draw: st.DrawFn, url: str) -> tuple[bytes, dict[str, Any]]:
    body = draw(_hubspot_bodies)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        body = body.decode("utf-8", "replace").encode()  # HubSpot signs text
    mode = draw(st.sampled_from(["signed"] * 8 + ["odd-timestamp", "legacy-only"]))
    if mode == "signed":
        return body, hubspot_v3(url, body)
    if mode == "odd-timestamp":
        headers = hubspot_v3(url, body)
        return body, {**headers, "X-HubSpot-Request-Timestamp": draw(_odd_timestamps)}
    legacy = hashlib.sha256(HUBSPOT_SECRET.encode() + body).hexdigest()  # a captured v1, its v3 stripped
    return body, {"Content-Type": "application/json", "X-HubSpot-Signature": legacy}


# ---------------------------------------------------------------- Salesforce outbound messages

_encodings = st.one_of(
    st.sampled_from(["UTF-8", "utf-8", "x-foo", "utf-7", "utf-16", "UTF-32", "latin-1", "ascii", "cp1252", "ebcdic"]),
    st.text(alphabet="abcdefxyz-0123456789", min_size=1, max_size=10),
)
_prologs = st.sampled_from(
    [
        "",
        '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>',
        '<!DOCTYPE foo SYSTEM "http://127.0.0.1:9/evil.dtd">',
        "<?pi data?>",
    ]
)


def _xml_text(value: str, raw: bool) -> str:
    return value if raw else escape(value)


@st.composite
def _notification(draw: st.DrawFn) -> str:
    raw = draw(st.booleans())
    nid = _xml_text(draw(_salesforce_ids), raw)
    kind = _xml_text(draw(st.one_of(st.sampled_from(["Lead", "Contact", "Account", ""]), st.text(max_size=10))), raw)
    rid = _xml_text(draw(_salesforce_ids), raw)
    extra = _xml_text(draw(st.text(max_size=30)), raw)
    if draw(st.booleans()):
        return f"<Notification><Id>{nid}</Id></Notification>"
    return (
        f'<Notification><Id>{nid}</Id><sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{rid}</sf:Id><sf:LastModifiedById>{extra}</sf:LastModifiedById></sObject></Notification>"
    )


@st.composite
def outbound_bodies(draw: st.DrawFn) -> bytes:
    encoding = draw(_encodings)
    org = draw(st.one_of(st.just(ORG), st.just(ORG[:15]), st.text(max_size=20).map(escape)))
    many = draw(st.integers(min_value=0, max_value=10))
    items = "".join(draw(st.lists(_notification(), min_size=0, max_size=4)))
    if many == 10:
        items *= 30  # past 100 notifications
    session = draw(st.sampled_from(['<SessionId xsi:nil="true"/>', "<SessionId>00D!abc</SessionId>", ""]))
    depth = draw(st.sampled_from([0, 0, 0, 50, 5000]))
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>{draw(_prologs)}'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        + "<x>"
        * depth
        + f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId>'
        f"<ActionId>04k5g000000XyZaAAK</ActionId>{session}{items}</notifications>"
        + "</x>" * depth
        + "</soapenv:Body></soapenv:Envelope>"
    )
    body = text.encode("utf-8", "surrogatepass")
    mangle = draw(st.sampled_from(["none"] * 6 + ["truncate", "insert", "binary"]))
    if mangle == "truncate":
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]
    elif mangle == "insert":
        at = draw(st.integers(min_value=0, max_value=len(body)))
        body = body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
    elif mangle == "binary":
        body = draw(st.binary(max_size=300))
    return body


@st.composite
def outbound_requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, Any]]:
    body = draw(outbound_bodies())
    path = draw(st.sampled_from([outbound_path()] * 9 + ["/webhooks/salesforce", "/webhooks/salesforce?key=%FF%00"]))
    return path, body, SOAP_HEADERS


# ---------------------------------------------------------------- Salesforce flow callouts

_flow_records = st.fixed_dictionaries(
    {},
    optional={
        "object": st.one_of(st.sampled_from(["Lead", "Contact", "Account"]), json_values),
        "id": st.one_of(_salesforce_ids, json_values),
    },
)
_flow_bodies = st.one_of(
    st.builds(
        _json_body,
        st.fixed_dictionaries(
            {"records": st.one_of(st.lists(st.one_of(_flow_records, json_values), max_size=5), json_values)},
            optional={"callout_id": st.one_of(st.text(max_size=30), json_values)},
        ),
        st.booleans(),
    ),
    st.builds(_json_body, json_values, st.booleans()),
    _pathological_json,
    st.binary(max_size=200),
)


@st.composite
def flow_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    body = draw(_flow_bodies)
    if draw(st.integers(min_value=0, max_value=9)) < 9:
        return body, callout_header(body)
    stamp = draw(_odd_timestamps)
    return body, {"Content-Type": "application/json", "X-Leadtherm-Signature": b"t=" + stamp + b",v1=00"}


# ---------------------------------------------------------------- the runs


def fuzz_route(server: Served, route: str, examples: int, tally: Counter[int], strict: bool = True) -> None:
    """Send `examples` generated requests to one route and count the statuses.

    Strict (the tests): the first status not allowed fails, and hypothesis shrinks it to the
    smallest such request. Not strict (the benchmark): generate only, count everything.
    """
    allowed = ALLOWED[route]
    config = settings(
        max_examples=examples,
        deadline=None,
        database=settings().database if strict else None,
        phases=list(Phase) if strict else [Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
            HealthCheck.function_scoped_fixture,
        ],
    )

    def record(status: int) -> None:
        tally[status] += 1
        if strict:
            assert status in allowed, f"{route} answered {status}"

    run: Callable[[], None]
    if route == "hubspot":
        url = server.base_url + HubSpotWebhookRoute.path

        @config
        @given(hubspot_requests(url))
        def run_hubspot(request: tuple[bytes, dict[str, Any]]) -> None:
            record(server.post(HubSpotWebhookRoute.path, *request))

        run = run_hubspot
    elif route == "outbound":

        @config
        @given(outbound_requests())
        def run_outbound(request: tuple[str, bytes, dict[str, Any]]) -> None:
            record(server.post(*request))

        run = run_outbound
    else:

        @config
        @given(flow_requests())
        def run_flow(request: tuple[bytes, dict[str, Any]]) -> None:
            record(server.post(FlowCalloutRoute.path, *request))

        run = run_flow
    run()
