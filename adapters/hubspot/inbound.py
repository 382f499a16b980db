"""HubSpot webhooks: signature verification on the raw bytes, and events -> ChangeEvents.

Verification is a pure function of (method, url, headers, body, secrets, now, legacy).
Only v3 is accepted by default: v1/v2 signatures carry no timestamp and never expire, so a
captured delivery with its v3 headers stripped could be replayed for ever. An operator
whose app sends nothing newer enables them explicitly (HUBSPOT_ALLOW_LEGACY_SIGNATURES),
and even then a request that carries v3 headers is judged by v3 alone.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.hubspot.signature import LEGACY_SETTING, hubspot_signature
from integration.errors import PayloadError, VerificationError
from integration.ports import ChangeEvent, EventKind, RecordRef
from integration.ports.inbound import Enqueue, InboundRequest, InboundResponse, RejectionLog, WebhookSettingError
from mappings.json_numbers import NonStandardNumber, refuse_constant

log = logging.getLogger("leadtherm.hubspot.inbound")

CRM = "hubspot"
MAX_EVENTS = 100
# A genuine merge names one or two contacts; a longer list is the record's merge history,
# whose ids were forgotten when their own merge events came. Past the cap nothing is queued
# for them: one signed event must not become thousands of queue rows.
MAX_MERGED_IDS = 100
TOLERANCE = timedelta(minutes=5)
_TOLERANCE_MS = int(TOLERANCE.total_seconds() * 1000)
LEGACY_VERSIONS = ("v1", "v2")
# ASCII digits only: str.isdigit() and int() also accept other scripts' digits ("١٢", "²").
_EPOCH_MS = re.compile(r"[0-9]{1,15}")
# HubSpot decodes these in the URI before signing (request-validation docs).
_URI_DECODE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_RESCORE = {"contact.creation", "contact.propertyChange", "contact.restore", "contact.merge"}
_FORGET = {"contact.deletion", "contact.privacyDeletion"}
_DEAL_RESCORE = {"deal.creation", "deal.propertyChange"}
_DEAL_PROPERTIES = frozenset({"dealstage", "hs_is_closed", "hs_is_closed_won", "amount", "pipeline"})
# Generic object webhooks of HubSpot's newer app platform name the object by type id.
_OBJECT_TYPES = {"0-1": "contact", "0-2": "company", "0-3": "deal"}
# Company scores: a company's own change re-scores it (the pipeline's company step drops the irrelevant ones).
_COMPANY_RESCORE = {"company.creation", "company.propertyChange", "company.restore"}
_COMPANY_FORGET = {"company.deletion"}


def signed_uri(url: str) -> str:
    """The URI as HubSpot signs it: certain percent-escapes decoded (either case)."""
    for escape, char in _URI_DECODE.items():
        url = url.replace(escape, char).replace(escape.lower(), char)
    return url


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError("body is not UTF-8, so it cannot carry a valid signature") from exc


def _v3(method: str, url: str, headers: Mapping[str, str], body: str, secrets: Sequence[str], now: datetime) -> None:
    signature = headers.get("x-hubspot-signature-v3", "")
    raw_timestamp = headers.get("x-hubspot-request-timestamp", "")
    if not signature or not raw_timestamp:
        raise VerificationError("X-HubSpot-Signature-v3 needs X-HubSpot-Request-Timestamp")
    if not _EPOCH_MS.fullmatch(raw_timestamp):
        raise VerificationError("X-HubSpot-Request-Timestamp is not epoch milliseconds")
    # Integer arithmetic: no datetime can overflow on a far-away timestamp.
    age_ms = int(now.timestamp() * 1000) - int(raw_timestamp)
    if age_ms > _TOLERANCE_MS:
        raise VerificationError("timestamp older than 5 minutes (replayed or delayed request)")
    if -age_ms > _TOLERANCE_MS:
        raise VerificationError("timestamp more than 5 minutes in the future")
    uri = signed_uri(url)
    for secret in secrets:
        expected = hubspot_signature(secret, body, "v3", uri, method, raw_timestamp)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return
    raise VerificationError("signature v3 does not match")


def _legacy(version: str, method: str, url: str, headers: Mapping[str, str], body: str, secrets: Sequence[str]) -> None:
    signature = headers.get("x-hubspot-signature", "")
    for secret in secrets:
        expected = hubspot_signature(secret, body, version, signed_uri(url), method)
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return
    raise VerificationError(f"signature {version} does not match")


def legacy_versions(setting: str | None) -> frozenset[str]:
    """HUBSPOT_ALLOW_LEGACY_SIGNATURES ('v1', 'v2', 'v1,v2'; unset: none) -> the versions allowed."""
    versions = frozenset(v.strip().lower() for v in (setting or "").split(",") if v.strip())
    unknown = sorted(versions - set(LEGACY_VERSIONS))
    if unknown:
        raise WebhookSettingError(LEGACY_SETTING, f"unknown version(s) {', '.join(unknown)}; use v1, v2 or v1,v2")
    return versions


def verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    legacy: frozenset[str] = frozenset(),
) -> None:
    """Raise VerificationError unless one of `secrets` signed this request; never anything else."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if not secrets:
        raise VerificationError("no client secret configured (HUBSPOT_CLIENT_SECRET)")
    text = _text(body)
    try:
        if "x-hubspot-signature-v3" in lowered or "x-hubspot-request-timestamp" in lowered:
            _v3(method.upper(), url, lowered, text, secrets, now)
            return
        if not legacy:
            raise VerificationError("missing X-HubSpot-Signature-v3 header (v1/v2 signatures are not accepted)")
        if "x-hubspot-signature" not in lowered:
            raise VerificationError("missing X-HubSpot-Signature-v3 (or X-HubSpot-Signature) header")
        version = lowered.get("x-hubspot-signature-version", "v1").strip().lower()
        if version not in legacy:
            raise VerificationError(f"signature version {version[:8]!r} is not accepted")
        _legacy(version, method.upper(), url, lowered, text, secrets)
    except UnicodeEncodeError as exc:  # a URL or header the signer could not have encoded
        raise VerificationError("request URL or signature is not encodable text") from exc


def _id(value: Any, name: str) -> str:
    if type(value) is int and 0 <= value < 10**18:  # HubSpot's ids are integers: the common, fast case
        return str(value)
    if type(value) is not str or not value.strip():  # bool, float, huge int, list, object, null
        raise PayloadError(f"{name} must be an id")
    text = value.strip()
    if len(text) > 64 or not text.replace("-", "").isascii() or not text.replace("-", "").isalnum():
        raise PayloadError(f"{name} is not a HubSpot id")
    return text


def _occurred(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**14:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return None


def _events_of(raw: Mapping[str, Any]) -> list[ChangeEvent]:
    """One HubSpot event -> the ChangeEvents it means (none for what leadtherm ignores)."""
    kind = raw.get("subscriptionType")
    if not isinstance(kind, str):
        raise PayloadError("subscriptionType missing")
    event_id = f"hubspot:{_id(raw.get('portalId', 0), 'portalId')}:{_id(raw.get('eventId'), 'eventId')}"
    occurred = _occurred(raw.get("occurredAt"))
    prop = raw.get("propertyName")
    if not isinstance(prop, str):  # a list or object here must not reach a set lookup
        prop = None
    changed = (prop,) if prop else ()
    source = raw.get("sourceId")
    actor = str(source) if isinstance(source, str | int) else None
    if kind.startswith("object."):
        type_id = raw.get("objectTypeId")
        object_type = _OBJECT_TYPES.get(type_id) if isinstance(type_id, str) else None
        if object_type is None:
            return []
        kind = f"{object_type}.{kind.removeprefix('object.')}"
    if kind in _RESCORE and kind != "contact.merge":  # the common case first
        target, event_kind = raw.get("objectId"), EventKind.RESCORE
    elif kind in _FORGET:
        target, event_kind = raw.get("objectId"), EventKind.FORGET
    elif kind == "contact.merge":
        return _merge(raw, event_id, occurred, actor)
    elif kind in _DEAL_RESCORE and (kind == "deal.creation" or prop in _DEAL_PROPERTIES):
        ref = RecordRef(CRM, "deal", _id(raw.get("objectId"), "objectId"))
        return [ChangeEvent(event_id, ref, EventKind.RESCORE, occurred, changed, actor)]
    elif kind in _COMPANY_RESCORE or kind in _COMPANY_FORGET:
        ref = RecordRef(CRM, "company", _id(raw.get("objectId"), "objectId"))
        company_kind = EventKind.FORGET if kind in _COMPANY_FORGET else EventKind.RESCORE
        return [ChangeEvent(event_id, ref, company_kind, occurred, changed, actor)]
    else:
        return []
    ref = RecordRef(CRM, "contact", _id(target, "objectId"))
    return [ChangeEvent(event_id, ref, event_kind, occurred, changed, actor)]


def _merge(raw: Mapping[str, Any], event_id: str, occurred: datetime | None, actor: str | None) -> list[ChangeEvent]:
    """A merge: re-score the surviving contact, forget (at most MAX_MERGED_IDS of) those merged into it."""
    primary = _id(raw.get("primaryObjectId", raw.get("objectId")), "primaryObjectId")
    merged = raw.get("mergedObjectIds") or []
    if not isinstance(merged, list):
        raise PayloadError("mergedObjectIds must be a list")
    new_object = raw.get("newObjectId")
    survivor = RecordRef(CRM, "contact", _id(new_object, "newObjectId") if new_object else primary)
    events = [ChangeEvent(event_id, survivor, EventKind.RESCORE, occurred, (), actor)]
    gone = dict.fromkeys(_id(value, "mergedObjectIds") for value in merged)  # validated, deduplicated, in order
    gone.pop(primary, None)
    gone.pop(survivor.record_id, None)
    if len(gone) > MAX_MERGED_IDS:
        log.warning(
            "merge event %s lists %d merged contacts; forgetting the first %d only", event_id, len(gone), MAX_MERGED_IDS
        )
    for record_id in list(gone)[:MAX_MERGED_IDS]:
        ref = RecordRef(CRM, "contact", record_id)
        events.append(ChangeEvent(f"{event_id}:merged:{record_id}", ref, EventKind.FORGET, occurred, (), actor))
    return events


def parse(body: bytes) -> list[ChangeEvent]:
    """A verified webhook body -> ChangeEvents; PayloadError for anything malformed."""
    try:
        data = json.loads(body, parse_constant=refuse_constant)
    except NonStandardNumber as exc:
        raise PayloadError(f"body is not JSON: {exc}") from exc
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer of thousands of digits
        raise PayloadError("body is not JSON") from exc
    except RecursionError as exc:
        raise PayloadError("body is nested too deeply") from exc
    if not isinstance(data, list):
        raise PayloadError("body must be a JSON array of events")
    if len(data) > MAX_EVENTS:
        raise PayloadError(f"{len(data)} events in one request; HubSpot sends at most {MAX_EVENTS}")
    events: list[ChangeEvent] = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise PayloadError(f"event {index} is not an object")
        try:
            events.extend(_events_of(raw))
        except PayloadError as exc:
            raise PayloadError(f"event {index}: {exc}") from exc
    return events


class HubSpotWebhookRoute:
    """POST /webhooks/hubspot: 204 only after the events are durably queued."""

    path = "/webhooks/hubspot"

    def __init__(
        self,
        secrets: Sequence[str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        legacy: frozenset[str] = frozenset(),
    ) -> None:
        self.secrets = [s for s in secrets if s]
        self.clock = clock
        self.legacy = legacy  # v1/v2 signatures an operator enabled; none by default
        self.rejected = RejectionLog(log, "HubSpot webhook(s)")

    def cannot_verify(self) -> str | None:
        return None if self.secrets else "HUBSPOT_CLIENT_SECRET not set"

    def handle(self, request: InboundRequest, enqueue: Enqueue) -> InboundResponse:
        try:
            verify(request.method, request.url, request.headers, request.body, self.secrets, self.clock(), self.legacy)
        except VerificationError as exc:
            self.rejected(str(exc))
            return InboundResponse.reject(401, str(exc))
        try:
            events = parse(request.body)
        except PayloadError as exc:
            return InboundResponse.reject(400, str(exc))
        if events:
            enqueue(events)
        return InboundResponse(204, events=len(events))
