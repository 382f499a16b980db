"""Salesforce inbound: SOAP outbound messages and signed flow callouts -> ChangeEvents.

Every XML parse goes through defusedxml with DTDs, entities and external references
forbidden. Faults are answered with 4xx rather than SOAP 1.1's customary 500, so that a
500 always means a bug here; Salesforce redelivers anything that is not an Ack either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from integration.errors import PayloadError, VerificationError
from integration.inbound import Enqueue, InboundRequest, InboundResponse
from integration.ports import ChangeEvent, RecordRef

log = logging.getLogger("leadtherm.salesforce.inbound")

CRM = "salesforce"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
MAX_FLOW_RECORDS = 200
TOLERANCE = timedelta(minutes=5)
_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>{}</soapenv:Body></soapenv:Envelope>"
)
ACK = _ENVELOPE.format(f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>')


def soap_fault(status: int, reason: str) -> InboundResponse:
    code = "soapenv:Client" if status < 500 else "soapenv:Server"
    body = _ENVELOPE.format(
        f"<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{escape(reason)}</faultstring></soapenv:Fault>"
    )
    return InboundResponse(status, body.encode(), "text/xml; charset=utf-8")


def _salesforce_id(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not _SALESFORCE_ID.match(text):
        raise PayloadError(f"{what} is not a Salesforce id")
    return text


def _child_text(element: Element, name: str, namespace: str) -> str | None:
    child = element.find(f"{{{namespace}}}{name}")
    return None if child is None or child.text is None else child.text.strip()


def _notifications(body: bytes) -> Element:
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise PayloadError(f"forbidden XML construct ({type(exc).__name__})") from exc
    except (ParseError, ValueError) as exc:
        raise PayloadError("body is not well-formed XML") from exc
    found: Element | None = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if found is None:
        raise PayloadError("no outbound-message notifications in the SOAP body")
    return found


def parse_outbound(body: bytes, org_id: str, objects: Sequence[str]) -> list[ChangeEvent]:
    """A SOAP outbound message -> ChangeEvents; VerificationError for a foreign org."""
    notifications = _notifications(body)
    org = _child_text(notifications, "OrganizationId", OUTBOUND_NS) or ""
    # Salesforce sends the 18-character org id; admins often copy the 15-character one.
    if not org_id or org[:15] != org_id[:15]:
        raise VerificationError("OrganizationId does not match SALESFORCE_ORG_ID")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise PayloadError(f"{len(items)} notifications; Salesforce sends at most {MAX_NOTIFICATIONS}")
    events = []
    for index, item in enumerate(items):
        notification_id = _salesforce_id(_child_text(item, "Id", OUTBOUND_NS), f"notification {index} Id")
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise PayloadError(f"notification {index} has no sObject")
        object_type = (sobject.get(f"{{{XSI_NS}}}type") or "").removeprefix("sf:")
        if object_type not in objects:
            raise PayloadError(f"notification {index}: sObject type {object_type!r} is not mapped")
        record_id = _salesforce_id(_child_text(sobject, "Id", SOBJECT_NS), f"notification {index} sObject Id")
        actor = _child_text(sobject, "LastModifiedById", SOBJECT_NS)
        events.append(ChangeEvent(f"{CRM}:{notification_id}", RecordRef(CRM, object_type, record_id), actor=actor))
    return events


class OutboundMessageRoute:
    """POST /webhooks/salesforce: a SOAP Ack only after the notifications are durably queued."""

    path = "/webhooks/salesforce"

    def __init__(self, org_id: str, objects: Sequence[str]) -> None:
        self.org_id = org_id
        self.objects = tuple(objects)

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        try:
            events = parse_outbound(request.body, self.org_id, self.objects)
        except VerificationError as exc:
            log.warning("rejected a Salesforce outbound message: %s", exc)
            return soap_fault(401, str(exc))
        except PayloadError as exc:
            return soap_fault(400, str(exc))
        if events:
            enqueue(events)
        return InboundResponse(200, ACK.encode(), "text/xml; charset=utf-8", events=len(events))


def callout_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<t>.<body>": what a flow or Apex callout puts in v1=."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_callout(header: str | None, body: bytes, secrets: Sequence[str], now: datetime) -> None:
    """`X-Leadtherm-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`; any secret, any v1 may match."""
    if not secrets:
        raise VerificationError("no callout secret configured (SALESFORCE_CALLOUT_SECRET)")
    if not header:
        raise VerificationError("missing X-Leadtherm-Signature header")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        raise VerificationError("X-Leadtherm-Signature needs one t=<unix seconds>")
    if not signatures:
        raise VerificationError("X-Leadtherm-Signature has no v1 signature")
    sent = datetime.fromtimestamp(int(timestamps[0]), tz=UTC)
    if abs(now - sent) > TOLERANCE:
        raise VerificationError("signature timestamp outside the 5-minute window")
    for secret in secrets:
        expected = callout_signature(secret, int(timestamps[0]), body)
        if any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures):
            return
    raise VerificationError("signature does not match")


def parse_callout(body: bytes, objects: Sequence[str]) -> list[ChangeEvent]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PayloadError("body is not JSON") from exc
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list) or not records:
        raise PayloadError('body must be {"records": [{"object": "Lead", "id": "00Q..."}]}')
    if len(records) > MAX_FLOW_RECORDS:
        raise PayloadError(f"at most {MAX_FLOW_RECORDS} records per callout")
    # A callout carries no id of its own: the body's digest makes a redelivery a duplicate.
    digest = hashlib.sha256(body).hexdigest()[:20]
    events = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or record.get("object") not in objects:
            raise PayloadError(f"records[{index}].object must be one of {', '.join(objects)}")
        record_id = _salesforce_id(
            record.get("id") if isinstance(record.get("id"), str) else None, f"records[{index}].id"
        )
        ref = RecordRef(CRM, str(record["object"]), record_id)
        events.append(ChangeEvent(f"{CRM}:flow:{digest}:{index}", ref))
    return events


class FlowCalloutRoute:
    """POST /webhooks/salesforce/flow: 202 after durable enqueue."""

    path = "/webhooks/salesforce/flow"

    def __init__(
        self,
        secrets: Sequence[str],
        objects: Sequence[str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.secrets = [s for s in secrets if s]
        self.objects = tuple(objects)
        self.clock = clock

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        try:
            verify_callout(request.header("X-Leadtherm-Signature"), request.body, self.secrets, self.clock())
        except VerificationError as exc:
            log.warning("rejected a Salesforce callout: %s", exc)
            return InboundResponse.reject(401, str(exc))
        try:
            events = parse_callout(request.body, self.objects)
        except PayloadError as exc:
            return InboundResponse.reject(400, str(exc))
        enqueue(events)
        body = json.dumps({"queued": len(events)}).encode()
        return InboundResponse(202, body, "application/json", events=len(events))
