"""Salesforce inbound: SOAP outbound messages and signed flow callouts -> ChangeEvents.

Outbound messages are not signed and their OrganizationId is public (Web-to-Lead forms
show it), so the route also needs a secret the admin puts into the endpoint URL
(`?key=<SALESFORCE_OUTBOUND_SECRET>`, compared in constant time before any XML is read) and,
when enabled, proves the SessionId the message carries belongs to the org. Every XML parse
goes through defusedxml with DTDs, entities and external references forbidden. Faults are
answered with 4xx rather than SOAP 1.1's customary 500, so that a 500 always means a bug
here; Salesforce redelivers anything that is not an Ack either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from adapters.salesforce.related import accepted_objects
from integration.errors import LeadthermError, PayloadError, VerificationError
from integration.ports import ChangeEvent, RecordRef
from integration.ports.inbound import Enqueue, InboundRequest, InboundResponse, RejectionLog, WebhookSettingError
from mappings.json_numbers import NonStandardNumber, refuse_constant

log = logging.getLogger("leadtherm.salesforce.inbound")

CRM = "salesforce"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
MAX_FLOW_RECORDS = 200
TOLERANCE = timedelta(minutes=5)
_TOLERANCE_SECONDS = int(TOLERANCE.total_seconds())
_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
# ASCII digits only: str.isdigit() and int() also accept other scripts' digits.
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
# A flow can send {!$Flow.InterviewGuid}, unique per run: the surest redelivery key.
_CALLOUT_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
OUTBOUND_SECRET_SETTING = "SALESFORCE_OUTBOUND_SECRET"
URL_SECRET_PARAMETER = "key"
MIN_URL_SECRET_LENGTH = 16
# Pasted into a URL by hand: only characters that need no escaping.
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>{}</soapenv:Body></soapenv:Envelope>"
)
ACK = _ENVELOPE.format(f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>')


def soap_fault(status: int, reason: str) -> InboundResponse:
    from xml.sax.saxutils import escape  # it loads urllib.request: not for `leadtherm check`, which builds no fault

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
    except LookupError as exc:  # <?xml encoding="x-foo"?>: a codec Python does not know
        raise PayloadError("the XML declaration names an unknown encoding") from exc
    except (ParseError, ValueError) as exc:
        raise PayloadError("body is not well-formed XML") from exc
    found: Element | None = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if found is None:
        raise PayloadError("no outbound-message notifications in the SOAP body")
    return found


@dataclass(frozen=True)
class OutboundMessage:
    """What an outbound message says: who sent it, with which session, and the changes."""

    org_id: str
    session_id: str | None
    events: list[ChangeEvent]


def read_outbound(body: bytes, objects: Sequence[str]) -> OutboundMessage:
    """A SOAP outbound message -> its org, session and ChangeEvents; PayloadError if malformed."""
    notifications = _notifications(body)
    org = _child_text(notifications, "OrganizationId", OUTBOUND_NS) or ""
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise PayloadError(f"{len(items)} notifications; Salesforce sends at most {MAX_NOTIFICATIONS}")
    accepted = accepted_objects(objects)
    events = []
    for index, item in enumerate(items):
        notification_id = _salesforce_id(_child_text(item, "Id", OUTBOUND_NS), f"notification {index} Id")
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise PayloadError(f"notification {index} has no sObject")
        object_type = (sobject.get(f"{{{XSI_NS}}}type") or "").removeprefix("sf:")
        if object_type not in accepted:
            raise PayloadError(f"notification {index}: sObject type {object_type[:40]!r} is not mapped")
        record_id = _salesforce_id(_child_text(sobject, "Id", SOBJECT_NS), f"notification {index} sObject Id")
        actor = _child_text(sobject, "LastModifiedById", SOBJECT_NS)
        events.append(ChangeEvent(f"{CRM}:{notification_id}", RecordRef(CRM, object_type, record_id), actor=actor))
    session = _child_text(notifications, "SessionId", OUTBOUND_NS)
    return OutboundMessage(org, session or None, events)


def same_org(sent: str, configured: str) -> bool:
    """Salesforce sends the 18-character org id; admins often copy the 15-character one."""
    return bool(configured) and len(sent) >= 15 and sent[:15] == configured[:15]


def parse_outbound(body: bytes, org_id: str, objects: Sequence[str]) -> list[ChangeEvent]:
    """A SOAP outbound message -> ChangeEvents; VerificationError for a foreign org."""
    message = read_outbound(body, objects)
    if not same_org(message.org_id, org_id):
        raise VerificationError("OrganizationId does not match SALESFORCE_ORG_ID")
    return message.events


def url_secrets(setting: str | None) -> list[str]:
    """SALESFORCE_OUTBOUND_SECRET (comma-separate two during a rotation) -> the secrets, checked."""
    secrets = [part.strip() for part in (setting or "").split(",") if part.strip()]
    for secret in secrets:
        if len(secret) < MIN_URL_SECRET_LENGTH or not _URL_SAFE.fullmatch(secret):
            raise WebhookSettingError(
                OUTBOUND_SECRET_SETTING,
                f"each secret needs at least {MIN_URL_SECRET_LENGTH} characters from A-Z a-z 0-9 . _ ~ - "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            )
    return secrets


def outbound_endpoint(base_url: str, secret: str) -> str:
    """The endpoint URL to paste into the outbound message: the route, with the secret."""
    return f"{base_url.rstrip('/')}{OutboundMessageRoute.path}?{urlencode({URL_SECRET_PARAMETER: secret})}"


def verify_url_secret(url: str, secrets: Sequence[str]) -> None:
    """The endpoint URL Salesforce called must carry one of `secrets` as ?key=; constant time."""
    if not secrets:
        raise VerificationError(f"no outbound-message secret configured ({OUTBOUND_SECRET_SETTING})")
    # Not urlsplit: it raises on a host such as "[abc", and the host is the client's to write.
    query = url.partition("?")[2].partition("#")[0]
    given = parse_qs(query, keep_blank_values=True).get(URL_SECRET_PARAMETER, [])
    if len(given) != 1:
        raise VerificationError(f"the endpoint URL must carry ?{URL_SECRET_PARAMETER}=<{OUTBOUND_SECRET_SETTING}>")
    presented = given[0].encode("utf-8", "replace")
    # Every secret is compared, so the time taken does not tell which one nearly matched.
    matches = [hmac.compare_digest(presented, secret.encode()) for secret in secrets]
    if not any(matches):
        raise VerificationError("the endpoint URL's key does not match")


class SessionCheckUnavailable(LeadthermError):
    """The CRM could not be asked whether a session is genuine: answer 503 so Salesforce retries."""


SessionCheck = Callable[[str], None]
"""Raise VerificationError unless the session id is a live session of the org (or SessionCheckUnavailable)."""


class OutboundMessageRoute:
    """POST /webhooks/salesforce: a SOAP Ack only after the notifications are durably queued."""

    path = "/webhooks/salesforce"

    def __init__(
        self,
        org_id: str,
        objects: Sequence[str],
        secrets: Sequence[str],
        session_check: SessionCheck | None = None,
    ) -> None:
        self.org_id = org_id
        self.objects = tuple(objects)
        self.secrets = [s for s in secrets if s]
        self.session_check = session_check  # off by default: needs "Send Session ID" ticked
        self.rejected = RejectionLog(log, "Salesforce outbound message(s)")

    def cannot_verify(self) -> str | None:
        needs = {"SALESFORCE_ORG_ID": bool(self.org_id.strip()), OUTBOUND_SECRET_SETTING: bool(self.secrets)}
        missing = [name for name, present in needs.items() if not present]
        return f"{' and '.join(missing)} not set" if missing else None

    def _verified(self, request: InboundRequest) -> list[ChangeEvent]:
        verify_url_secret(request.url, self.secrets)  # before a byte of XML is read
        message = read_outbound(request.body, self.objects)
        if not same_org(message.org_id, self.org_id):
            raise VerificationError("OrganizationId does not match SALESFORCE_ORG_ID")
        if self.session_check is not None:
            if not message.session_id:
                raise VerificationError("no SessionId in the message: tick 'Send Session ID' on the outbound message")
            self.session_check(message.session_id)
        return message.events

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        try:
            events = self._verified(request)
        except VerificationError as exc:
            self.rejected(str(exc))
            return soap_fault(401, str(exc))
        except PayloadError as exc:
            return soap_fault(400, str(exc))
        except SessionCheckUnavailable as exc:
            log.warning("could not check an outbound message's session: %s", exc)
            return soap_fault(503, "the session could not be checked now; deliver again later")
        if events:
            enqueue(events)
        return InboundResponse(200, ACK.encode(), "text/xml; charset=utf-8", events=len(events))


def callout_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of "<t>.<body>": what a flow or Apex callout puts in v1=."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_callout(header: str | None, body: bytes, secrets: Sequence[str], now: datetime) -> int:
    """`X-Leadtherm-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`; any secret, any v1 may match -> t."""
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
    if len(timestamps) != 1 or not _UNIX_SECONDS.fullmatch(timestamps[0]):
        raise VerificationError("X-Leadtherm-Signature needs one t=<unix seconds>")
    if not signatures:
        raise VerificationError("X-Leadtherm-Signature has no v1 signature")
    signed_at = int(timestamps[0])
    # Integer arithmetic: no datetime can overflow on a far-away timestamp.
    if abs(int(now.timestamp()) - signed_at) > _TOLERANCE_SECONDS:
        raise VerificationError("signature timestamp outside the 5-minute window")
    for secret in secrets:
        expected = callout_signature(secret, signed_at, body).encode()
        if any(hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in signatures):
            return signed_at
    raise VerificationError("signature does not match")


def _callout_key(data: dict[str, object], body: bytes, signed_at: int) -> str:
    """What identifies this callout: its callout_id, else the signed timestamp with the body.

    The body alone is the same for every change to a record, so keying on it would drop real
    changes as duplicates; a redelivery repeats the signature header and the body exactly.
    """
    callout_id = data.get("callout_id")
    if callout_id is not None:
        if not isinstance(callout_id, str) or not _CALLOUT_ID.fullmatch(callout_id):
            raise PayloadError("callout_id must be 1-100 characters from A-Z a-z 0-9 . _ : -")
        return f"id:{callout_id}"
    return "t:" + hashlib.sha256(f"{signed_at}.".encode() + body).hexdigest()[:32]


def parse_callout(body: bytes, objects: Sequence[str], signed_at: int) -> list[ChangeEvent]:
    """A verified callout body (signed at `signed_at`) -> one ChangeEvent per record."""
    try:
        data = json.loads(body, parse_constant=refuse_constant)
    except NonStandardNumber as exc:
        raise PayloadError(f"body is not JSON: {exc}") from exc
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer of thousands of digits
        raise PayloadError("body is not JSON") from exc
    except RecursionError as exc:
        raise PayloadError("body is nested too deeply") from exc
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list) or not records:
        raise PayloadError('body must be {"records": [{"object": "Lead", "id": "00Q..."}]}')
    if len(records) > MAX_FLOW_RECORDS:
        raise PayloadError(f"at most {MAX_FLOW_RECORDS} records per callout")
    key = _callout_key(data, body, signed_at)
    accepted = accepted_objects(objects)
    events = []
    for index, record in enumerate(records):
        kind = record.get("object") if isinstance(record, dict) else None
        if not isinstance(kind, str) or kind not in accepted:
            raise PayloadError(f"records[{index}].object must be one of {', '.join(accepted)}")
        raw_id = record.get("id")
        record_id = _salesforce_id(raw_id if isinstance(raw_id, str) else None, f"records[{index}].id")
        events.append(ChangeEvent(f"{CRM}:flow:{key}:{index}", RecordRef(CRM, kind, record_id)))
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
        self.rejected = RejectionLog(log, "Salesforce callout(s)")

    def cannot_verify(self) -> str | None:
        return None if self.secrets else "SALESFORCE_CALLOUT_SECRET not set"

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        try:
            signed_at = verify_callout(
                request.header("X-Leadtherm-Signature"), request.body, self.secrets, self.clock()
            )
        except VerificationError as exc:
            self.rejected(str(exc))
            return InboundResponse.reject(401, str(exc))
        try:
            events = parse_callout(request.body, self.objects, signed_at)
        except PayloadError as exc:
            return InboundResponse.reject(400, str(exc))
        enqueue(events)
        body = json.dumps({"queued": len(events)}).encode()
        return InboundResponse(202, body, "application/json", events=len(events))
