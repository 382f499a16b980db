"""A local emulator of the HubSpot APIs leadtherm uses, faithful to the documented wire formats.

CRM v3 contacts and companies (get, list with `after`, batch read/update, search total), deals,
v4 associations (deal-contact, company-contact both ways), properties and groups per object; bearer auth; a rolling rate limit with the
`X-HubSpot-RateLimit-*` headers; HubSpot's error bodies (400 VALIDATION_ERROR, 207 with
OBJECT_NOT_FOUND, 409, 429 RATE_LIMITS); fault knobs. Changes are delivered as signed (v3 and
v1) webhook batches of at most 100 events, retried on failure, including the property changes
that leadtherm's own writes cause. The webhooks journal (journal.py) beside them: client-credentials
tokens, journal subscriptions, entries for every subscribed change, expiring download URLs.
Runnable alone: `python -m leadtherm_sandboxes.hubspot.sandbox`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from leadtherm_sandboxes.hubspot.journal import Journal, source_id_of
from leadtherm_sandboxes.waiting import run_until_interrupted, wait_until

BATCH_LIMIT = 100
SEARCH_LIMIT = 10_000  # the CRM search API pages through at most this many results of one query
ASSOCIATIONS_LIMIT = 1000  # v4 associations batch read: at most 1000 ids per request (since February 2025)
STANDARD_PROPERTIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "firstname": ("string", "text", ()),
    "lastname": ("string", "text", ()),
    "email": ("string", "text", ()),
    "company": ("string", "text", ()),
    "jobtitle": ("string", "text", ()),
    "numemployees": ("enumeration", "select", ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")),
    "annualrevenue": ("string", "text", ()),
    "industry": ("string", "text", ()),
    "country": ("string", "text", ()),
    "hs_analytics_source": (
        "enumeration",
        "select",
        (
            "ORGANIC_SEARCH",
            "PAID_SEARCH",
            "EMAIL_MARKETING",
            "SOCIAL_MEDIA",
            "REFERRALS",
            "OTHER_CAMPAIGNS",
            "DIRECT_TRAFFIC",
            "OFFLINE",
            "PAID_SOCIAL",
            "AI_REFERRALS",
        ),
    ),
    "hs_analytics_num_page_views": ("number", "number", ()),
    "hs_analytics_num_visits": ("number", "number", ()),
    "num_conversion_events": ("number", "number", ()),
    "hs_email_open": ("number", "number", ()),
    "hs_email_click": ("number", "number", ()),
    "hs_email_replied": ("number", "number", ()),
    "hs_email_bounce": ("number", "number", ()),
    "hs_email_optout": ("bool", "booleancheckbox", ("true", "false")),
    "lifecyclestage": (
        "enumeration",
        "radio",
        (
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "salesqualifiedlead",
            "opportunity",
            "customer",
            "evangelist",
            "other",
        ),
    ),
    "hs_lead_status": (
        "enumeration",
        "radio",
        ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"),
    ),
    # The deal roll-ups a real contact carries; `hs_num_open_deals` is a company property, not on contacts.
    "num_associated_deals": ("number", "number", ()),
    "total_revenue": ("number", "number", ()),
    "recent_deal_amount": ("number", "number", ()),
    "recent_deal_close_date": ("datetime", "date", ()),
    "first_deal_created_date": ("datetime", "date", ()),
    "hs_last_sales_activity_timestamp": ("datetime", "date", ()),
    "hs_analytics_last_visit_timestamp": ("datetime", "date", ()),
    "hs_email_last_open_date": ("datetime", "date", ()),
    "notes_last_updated": ("datetime", "date", ()),
    "createdate": ("datetime", "date", ()),
    "lastmodifieddate": ("datetime", "date", ()),
    "hs_object_id": ("number", "number", ()),
    "associatedcompanyid": ("number", "number", ()),  # the contact's primary company
}
# A company's default properties (the subset leadtherm reads); `hs_lastmodifieddate`, as HubSpot names it on companies.
COMPANY_PROPERTIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "name": ("string", "text", ()),
    "domain": ("string", "text", ()),
    "industry": ("string", "text", ()),
    "numberofemployees": ("number", "number", ()),
    "annualrevenue": ("number", "number", ()),
    "country": ("string", "text", ()),
    "lifecyclestage": ("enumeration", "radio", ("lead", "opportunity", "customer", "other")),
    "hs_num_open_deals": ("number", "number", ()),
    "createdate": ("datetime", "date", ()),
    "hs_lastmodifieddate": ("datetime", "date", ()),
    "hs_object_id": ("number", "number", ()),
}
_COMPANY_TYPES = ("companies", "company", "0-2")
_LIFECYCLE_ORDER = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
_CLOSED = ("closedwon", "closedlost")
# HubSpot retries a failed delivery up to 10 times, spread over about a day.
RETRY_DELAYS = (60, 120, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error(status: int, category: str, message: str, **extra: Any) -> Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}
    return Response(json.dumps(body), status=status, content_type="application/json;charset=utf-8")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json;charset=utf-8")


@dataclass
class _Object:
    id: str
    properties: dict[str, str]
    created: str
    updated: str


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    events: list[dict[str, Any]] = field(compare=False)
    attempt: int = field(default=0, compare=False)


@dataclass
class Faults:
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    rate_timeout: float = 0.0
    timeout_seconds: float = 20.0


class QuietHandler(WSGIRequestHandler):
    """No access log: tests and the demo have their own output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _standard_group(name: str, label: str) -> dict[str, dict[str, Any]]:
    """An object's one built-in property group, as the properties API lists it."""
    return {name: {"name": name, "label": label, "displayOrder": -1, "archived": False}}


class HubSpotSandbox:
    """An in-memory HubSpot portal behind a real HTTP server on 127.0.0.1."""

    def __init__(
        self,
        access_token: str = "sandbox-token",
        rate_limit: tuple[int, float] = (100, 10.0),
        latency: float = 0.0,
        seed: int = 1,
        portal_id: int = 62515,
        app_id: int = 1160452,
    ) -> None:
        self.access_token = access_token
        self.rate_limit = rate_limit
        self.latency = latency
        self.portal_id = portal_id
        self.app_id = app_id
        self.faults = Faults()
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.ids = itertools.count(1001)
        self.contacts: dict[str, _Object] = {}
        self.deals: dict[str, _Object] = {}
        self.links: dict[str, set[str]] = {}  # deal id -> contact ids
        self.companies: dict[str, _Object] = {}
        self.members: dict[str, set[str]] = {}  # company id -> contact ids (contact-company associations)
        self.company_writes: list[tuple[str, dict[str, str]]] = []  # company id, properties written by the API
        self.company_properties = {
            n: self._definition(n, t, f, o, "companyinformation") for n, (t, f, o) in COMPANY_PROPERTIES.items()
        }
        self.company_groups = _standard_group("companyinformation", "Company information")
        self.properties = {
            n: self._definition(n, t, f, o, "contactinformation") for n, (t, f, o) in STANDARD_PROPERTIES.items()
        }
        self.groups = _standard_group("contactinformation", "Contact information")
        self.calls: Counter[str] = Counter()
        self.count_429 = 0
        self.writes: list[tuple[str, dict[str, str]]] = []  # contact id, properties written through the API
        self.write_times: list[tuple[float, str]] = []  # time.monotonic() of each write, contact id
        self.expired_tokens: set[str] = set()
        self._window: deque[float] = deque()
        self._scripted: deque[tuple[int, float | None]] = deque()  # forced answers for the next requests
        self._html_answers = 0  # the next API requests get a 200 HTML page (a proxy's or an outage's)
        # webhooks
        self.webhook_url: str | None = None
        self.client_secret = ""
        self.time_scale = 0.001
        self.batch_window = 0.05
        self.subscriptions: set[str] | None = None
        self.delivered = 0
        self.failed_attempts = 0
        self.attempt_numbers: list[int] = []
        self._pending: list[dict[str, Any]] = []
        self._pending_since = 0.0
        self._retries: list[_Delivery] = []
        self._in_flight = 0  # batches taken off the queues whose POST has not ended: not flushed yet
        self._seq = itertools.count()
        self._event_ids = itertools.count(1)
        self._wake = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        # The webhooks journal (pull): records only what its subscriptions ask for, so it costs nothing unused.
        self.journal = Journal(portal_id, app_id, _error)
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> str:
        self._server = make_server("127.0.0.1", port, self.app, threaded=True, request_handler=QuietHandler)
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="hubspot-sandbox", daemon=True),
            threading.Thread(target=self._deliver_loop, name="hubspot-webhooks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.journal.base_url = self.base_url
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the sandbox first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ Python API
    def configure_webhooks(
        self,
        url: str,
        client_secret: str,
        time_scale: float = 0.001,
        subscriptions: set[str] | None = None,
        batch_window: float = 0.05,
    ) -> None:
        """Deliver events to `url`; `time_scale` shrinks HubSpot's retry schedule (1.0 = real time)."""
        with self.lock:
            self.webhook_url, self.client_secret = url, client_secret
            self.time_scale, self.subscriptions, self.batch_window = time_scale, subscriptions, batch_window

    def set_faults(
        self, rate_5xx: float = 0.0, rate_429: float = 0.0, rate_timeout: float = 0.0, timeout_seconds: float = 20.0
    ) -> None:
        self.faults = Faults(rate_5xx, rate_429, rate_timeout, timeout_seconds)

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next API requests with `status` (429 or 5xx), whatever they ask."""
        with self.lock:
            self._scripted.extend((status, retry_after) for _ in range(times))

    def answer_html_next(self, times: int = 1) -> None:
        """Answer the next API requests with 200 and an HTML page instead of HubSpot's JSON."""
        with self.lock:
            self._html_answers += times

    def expire_token(self, token: str | None = None) -> None:
        self.expired_tokens.add(token or self.access_token)

    def create_contact(self, properties: dict[str, str], source: str = "CRM_UI") -> str:
        with self.lock:
            contact = self._new(self.contacts, properties)
            self._emit("contact.creation", contact.id, source=source)
            return contact.id

    def update_contact(self, contact_id: str, properties: dict[str, str], source: str = "CRM_UI") -> None:
        with self.lock:
            self._set(contact_id, properties, source)

    def delete_contact(self, contact_id: str, privacy: bool = False) -> None:
        with self.lock:
            del self.contacts[contact_id]
            self._emit("contact.privacyDeletion" if privacy else "contact.deletion", contact_id, source="CRM_UI")

    def merge_contacts(self, primary_id: str, merged_id: str) -> None:
        """Merge `merged_id` into `primary_id`, as a rep does in HubSpot: the primary survives."""
        with self.lock:
            merged = self.contacts.pop(merged_id)
            survivor = self.contacts[primary_id]
            for name, value in merged.properties.items():
                survivor.properties.setdefault(name, value)
            survivor.updated = survivor.properties["lastmodifieddate"] = _now_iso()
            merge = {
                "primaryObjectId": int(primary_id),
                "mergedObjectIds": [int(merged_id)],
                "newObjectId": int(primary_id),
            }
            self._emit("contact.merge", primary_id, source="CRM_UI", extra=merge)

    def contact(self, contact_id: str) -> dict[str, str]:
        with self.lock:
            return dict(self.contacts[contact_id].properties)

    def create_deal(self, properties: dict[str, str], contact_ids: Sequence[str] = ()) -> str:
        with self.lock:
            deal = self._new(self.deals, {"pipeline": "default", "dealstage": "appointmentscheduled", **properties})
            self.links[deal.id] = set()
            self._emit("deal.creation", deal.id, source="CRM_UI")
            for contact_id in contact_ids:
                self.associate(contact_id, deal.id)
            return deal.id

    def update_deal(self, deal_id: str, properties: dict[str, str]) -> None:
        with self.lock:
            deal = self.deals[deal_id]
            for name, value in properties.items():
                deal.properties[name] = value
                self._emit("deal.propertyChange", deal_id, name, value, "CRM_UI")
            for contact_id in self.links.get(deal_id, ()):
                self._rollup(contact_id)

    def associate(self, contact_id: str, deal_id: str) -> None:
        with self.lock:
            self.links.setdefault(deal_id, set()).add(contact_id)
            self._rollup(contact_id)

    def create_company(self, properties: dict[str, str], source: str = "CRM_UI") -> str:
        with self.lock:
            company = self._new(self.companies, properties)
            self.members[company.id] = set()
            self._emit("company.creation", company.id, source=source)
            return company.id

    def update_company(self, company_id: str, properties: dict[str, str], source: str = "CRM_UI") -> None:
        with self.lock:
            self._set_company(company_id, properties, source)

    def delete_company(self, company_id: str) -> None:
        with self.lock:
            del self.companies[company_id]
            for contact_id in self.members.pop(company_id, set()):
                if self.contacts[contact_id].properties.get("associatedcompanyid") == company_id:
                    self._set(contact_id, {"associatedcompanyid": ""}, "CRM_UI")
            self._emit("company.deletion", company_id, source="CRM_UI")

    def company(self, company_id: str) -> dict[str, str]:
        with self.lock:
            return dict(self.companies[company_id].properties)

    def associate_company(self, contact_id: str, company_id: str) -> None:
        """Associate a contact with a company, as its primary company (HubSpot sets associatedcompanyid)."""
        with self.lock:
            for people in self.members.values():
                people.discard(contact_id)
            self.members.setdefault(company_id, set()).add(contact_id)
            self._set(contact_id, {"associatedcompanyid": company_id}, "CRM_UI")
            self._emit("contact.associationChange", contact_id, source="CRM_UI")

    def flush_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was made (or given up); False on timeout."""

        def drained() -> bool:
            with self.lock:
                return not self._pending and not self._retries and not self._in_flight

        return wait_until(drained, timeout)

    # ------------------------------------------------------------------ portal internals
    @staticmethod
    def _definition(name: str, kind: str, widget: str, options: tuple[str, ...], group: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": name.replace("_", " ").capitalize(),
            "type": kind,
            "fieldType": widget,
            "groupName": group,
            "description": "",
            "options": [{"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(options)],
            "hidden": False,
            "formField": False,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": False,
            "createdAt": _now_iso(),
            "updatedAt": _now_iso(),
            "archived": False,
        }

    def _new(self, store: dict[str, _Object], properties: dict[str, str]) -> _Object:
        object_id = str(next(self.ids))
        stamp = _now_iso()
        props = {"createdate": stamp, "lastmodifieddate": stamp, "hs_object_id": object_id, **properties}
        store[object_id] = _Object(object_id, props, stamp, stamp)
        return store[object_id]

    def _set(self, contact_id: str, properties: dict[str, str], source: str, source_id: str | None = None) -> None:
        contact = self.contacts[contact_id]
        for name, value in properties.items():
            if contact.properties.get(name) == value:
                continue  # HubSpot sends no event for a value that did not change
            contact.properties[name] = value
            self._emit("contact.propertyChange", contact_id, name, value, source, source_id)
        contact.updated = contact.properties["lastmodifieddate"] = _now_iso()

    def _set_company(
        self, company_id: str, properties: dict[str, str], source: str, source_id: str | None = None
    ) -> None:
        company = self.companies[company_id]
        for name, value in properties.items():
            if company.properties.get(name) == value:
                continue
            company.properties[name] = value
            self._emit("company.propertyChange", company_id, name, value, source, source_id)
        company.updated = company.properties["hs_lastmodifieddate"] = _now_iso()

    def _props(self, object_type: str) -> dict[str, dict[str, Any]]:
        """The property definitions of an object type (companies have their own)."""
        return self.company_properties if object_type in _COMPANY_TYPES else self.properties

    def _groups(self, object_type: str) -> dict[str, dict[str, Any]]:
        return self.company_groups if object_type in _COMPANY_TYPES else self.groups

    def _rollup(self, contact_id: str) -> None:
        """HubSpot's calculated deal properties and default lifecycle sync for one contact."""
        deals = [self.deals[d] for d, contacts in self.links.items() if contact_id in contacts]
        open_deals = sum(1 for d in deals if d.properties.get("dealstage") not in _CLOSED)
        won = sum(float(d.properties.get("amount") or 0) for d in deals if d.properties.get("dealstage") == "closedwon")
        values = {
            "num_associated_deals": str(len(deals)),
            "total_revenue": str(won),
        }
        stage = "customer" if won else "opportunity" if open_deals else None
        current = self.contacts[contact_id].properties.get("lifecyclestage")
        if stage and (
            current not in _LIFECYCLE_ORDER or _LIFECYCLE_ORDER.index(stage) > _LIFECYCLE_ORDER.index(current)
        ):
            values["lifecyclestage"] = stage
        self._set(contact_id, values, "CALCULATED")

    def _associated(self, from_type: str, to_type: str, from_id: str) -> set[str]:
        if (from_type, to_type) == ("deals", "contacts"):
            return set(self.links.get(from_id, ()))
        if (from_type, to_type) == ("companies", "contacts"):
            return set(self.members.get(from_id, ()))
        return {c for c, people in self.members.items() if from_id in people}

    def _emit(
        self,
        kind: str,
        object_id: str,
        prop: str | None = None,
        value: str | None = None,
        source: str = "CRM_UI",
        source_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.journal.record(kind, object_id, prop, value, source, source_id, extra)
        if self.webhook_url is None or (self.subscriptions is not None and kind not in self.subscriptions):
            return
        event: dict[str, Any] = {
            "eventId": next(self._event_ids),
            "subscriptionId": 4242,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": int(time.time() * 1000),
            "subscriptionType": kind,
            "attemptNumber": 0,
            "objectId": int(object_id),
            "changeSource": source,
            "sourceId": source_id_of(source, source_id),
        }
        if prop is not None:
            event.update(propertyName=prop, propertyValue=value)
        if extra:
            event.update(extra)
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(event)
        self._wake.notify_all()

    # ------------------------------------------------------------------ webhook delivery
    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                batch = self._next_batch()
                if batch is None:
                    self._wake.wait(0.01)
                    continue
                self._in_flight += 1
            try:
                self._deliver(batch)
            finally:
                with self.lock:
                    self._in_flight -= 1

    def _next_batch(self) -> _Delivery | None:
        now = time.monotonic()
        if self._retries and self._retries[0].due <= now:
            return heapq.heappop(self._retries)
        if self._pending and (len(self._pending) >= BATCH_LIMIT or now - self._pending_since >= self.batch_window):
            events, self._pending = self._pending[:BATCH_LIMIT], self._pending[BATCH_LIMIT:]
            self._pending_since = now
            return _Delivery(now, next(self._seq), events)
        return None

    def signed_request(self, url: str, body: bytes) -> dict[str, str]:
        """The headers HubSpot sends: v3 over method + URI + body + timestamp, and v1."""
        timestamp = str(int(time.time() * 1000))
        message = b"POST" + url.encode() + body + timestamp.encode()
        v3 = base64.b64encode(hmac.new(self.client_secret.encode(), message, hashlib.sha256).digest()).decode()
        return {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": v3,
            "X-HubSpot-Request-Timestamp": timestamp,
            "X-HubSpot-Signature": hashlib.sha256(self.client_secret.encode() + body).hexdigest(),
            "X-HubSpot-Signature-Version": "v1",
        }

    def _deliver(self, delivery: _Delivery) -> None:
        url = self.webhook_url
        if url is None:
            return
        events = [{**e, "attemptNumber": delivery.attempt} for e in delivery.events]
        body = json.dumps(events).encode()
        try:
            answer = requests.post(url, data=body, headers=self.signed_request(url, body), timeout=5)
            ok = 200 <= answer.status_code < 300
        except requests.RequestException:
            ok = False
        with self.lock:
            self.attempt_numbers.append(delivery.attempt)
            if ok:
                self.delivered += len(events)
                return
            self.failed_attempts += 1
            if delivery.attempt < len(RETRY_DELAYS):
                delay = RETRY_DELAYS[delivery.attempt] * self.time_scale
                retry = _Delivery(time.monotonic() + delay, next(self._seq), delivery.events, delivery.attempt + 1)
                heapq.heappush(self._retries, retry)

    # ------------------------------------------------------------------ HTTP API
    def _gate(self) -> Response | None:
        """Auth, injected faults and the rate limit, in HubSpot's order and shapes."""
        if self.latency:
            time.sleep(self.latency)
        if self.journal.owns(request.path):
            return None  # its own tokens (client credentials), scopes and limits
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if not header.startswith("Bearer ") or token != self.access_token or token in self.expired_tokens:
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        with self.lock:
            if self._html_answers:
                self._html_answers -= 1
                return Response("<html><body>Service temporarily unavailable</body></html>", 200, mimetype="text/html")
            scripted = self._scripted.popleft() if self._scripted else None
            now = time.monotonic()
            limit, window = self.rate_limit
            while self._window and now - self._window[0] >= window:
                self._window.popleft()
            over = len(self._window) >= limit
            if not over:
                self._window.append(now)
            roll = self.rng.random()
        if scripted is not None:
            status, retry_after = scripted
            return self._fault(status, retry_after)
        if over or roll < self.faults.rate_429:
            return self._fault(429, None)
        if roll < self.faults.rate_429 + self.faults.rate_5xx:
            return self._fault(502, None)
        if roll < self.faults.rate_429 + self.faults.rate_5xx + self.faults.rate_timeout:
            time.sleep(self.faults.timeout_seconds)
        return None

    def _fault(self, status: int, retry_after: float | None) -> Response:
        if status == 429:
            with self.lock:
                self.count_429 += 1
            answer = _error(
                429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING",
            )  # fmt: skip
            if retry_after is not None:
                answer.headers["Retry-After"] = str(retry_after)
            return answer
        return _error(status, "INTERNAL_ERROR", "internal error")

    def _rate_headers(self, answer: Response) -> Response:
        limit, window = self.rate_limit
        with self.lock:
            remaining = max(0, limit - len(self._window))
        answer.headers["X-HubSpot-RateLimit-Max"] = str(limit)
        answer.headers["X-HubSpot-RateLimit-Remaining"] = str(remaining)
        answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(window * 1000))
        return answer

    def _serialize(
        self, obj: _Object, wanted: list[str] | None, known: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        known = self.properties if known is None else known
        names = (
            wanted
            if wanted is not None
            else ["createdate", "lastmodifieddate", "hs_object_id", "email", "firstname", "lastname"]
        )
        props = {
            n: obj.properties.get(n)
            for n in dict.fromkeys([*names, "createdate", "lastmodifieddate", "hs_object_id"])
            if n in known or n in obj.properties
        }
        return {
            "id": obj.id,
            "properties": props,
            "createdAt": obj.created,
            "updatedAt": obj.updated,
            "archived": False,
        }

    def _validate(
        self, properties: dict[str, Any], known: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Any] | None:
        """HubSpot's VALIDATION_ERROR for the first bad property of an update, or None."""
        for name, value in properties.items():
            definition = (self.properties if known is None else known).get(name)
            if definition is None:
                return {
                    "message": f'Property "{name}" does not exist',
                    "code": "PROPERTY_DOESNT_EXIST",
                    "context": {"propertyName": [name]},
                }
            text = "" if value is None else str(value)
            options = [o["value"] for o in definition["options"]]
            if text and definition["type"] in ("enumeration", "bool") and text not in options:
                return {
                    "message": f"{text} was not one of the allowed options: {options}",
                    "code": "INVALID_OPTION",
                    "context": {"propertyName": [name]},
                }
            if text and definition["type"] == "number":
                try:
                    float(text)
                except ValueError:
                    return {
                        "message": f"{text} is not a valid number",
                        "code": "INVALID_DECIMAL",
                        "context": {"propertyName": [name]},
                    }
        return None

    def _build_app(self) -> Flask:
        app = Flask("hubspot-sandbox")
        sandbox = self

        @app.before_request
        def gate() -> Response | None:
            sandbox.calls[f"{request.method} {request.url_rule.rule if request.url_rule else request.path}"] += 1
            return sandbox._gate()

        @app.after_request
        def headers(answer: Response) -> Response:
            return sandbox._rate_headers(answer)

        @app.errorhandler(Exception)
        def crash(exc: Exception) -> Response:  # the emulator's own bugs still answer like HubSpot
            code = getattr(exc, "code", 500)
            return _error(
                code if isinstance(code, int) else 500, "INTERNAL_ERROR" if code == 500 else "INVALID_REQUEST", str(exc)
            )

        @app.get("/crm/v3/objects/contacts/<contact_id>")
        def get_contact(contact_id: str) -> Response:
            with sandbox.lock:
                obj = sandbox.contacts.get(contact_id)
                if obj is None:
                    return _error(404, "OBJECT_NOT_FOUND", "resource not found")
                return _json(sandbox._serialize(obj, _wanted()))

        @app.get("/crm/v3/objects/contacts")
        def list_contacts() -> Response:
            limit = min(int(request.args.get("limit", 10)), BATCH_LIMIT)
            after = int(request.args.get("after", 0) or 0)
            with sandbox.lock:
                ordered = sorted(sandbox.contacts.values(), key=lambda o: int(o.id))
                page = [o for o in ordered if int(o.id) > after][:limit]
                more = bool(page) and int(page[-1].id) < int(ordered[-1].id)
                body: dict[str, Any] = {"results": [sandbox._serialize(o, _wanted()) for o in page]}
            if more:
                body["paging"] = {"next": {"after": page[-1].id, "link": f"?after={page[-1].id}"}}
            return _json(body)

        @app.post("/crm/v3/objects/contacts/search")
        def search_contacts() -> Response:
            body = request.get_json(force=True) or {}
            with sandbox.lock:
                found = _search(list(sandbox.contacts.values()), body)
                limit = min(int(body.get("limit") or 10), 200)
                after = int(body.get("after") or 0)
                if after + limit > SEARCH_LIMIT:
                    return _error(400, "VALIDATION_ERROR", f"paging beyond {SEARCH_LIMIT} results is not supported")
                page = found[after : after + limit]
                answer: dict[str, Any] = {
                    "total": len(found),
                    "results": [sandbox._serialize(o, body.get("properties") or None) for o in page],
                }
            if after + limit < len(found):
                answer["paging"] = {"next": {"after": str(after + limit)}}
            return _json(answer)

        @app.post("/crm/v3/objects/contacts")
        def create_contact() -> Response:
            properties = (request.get_json(force=True) or {}).get("properties", {})
            with sandbox.lock:
                problem = sandbox._validate(properties)
                if problem:
                    return _error(400, "VALIDATION_ERROR", "Property values were not valid", errors=[problem])
                contact = sandbox._new(sandbox.contacts, {k: str(v) for k, v in properties.items()})
                sandbox._emit("contact.creation", contact.id, source="API")
                return _json(sandbox._serialize(contact, list(properties)), 201)

        @app.post("/crm/v3/objects/contacts/batch/read")
        def batch_read() -> Response:
            body = request.get_json(force=True) or {}
            inputs = [str(i.get("id")) for i in body.get("inputs", [])]
            if len(inputs) > BATCH_LIMIT:
                return _error(400, "VALIDATION_ERROR", f"Batch input limit of {BATCH_LIMIT} exceeded")
            with sandbox.lock:
                found = [
                    sandbox._serialize(sandbox.contacts[i], body.get("properties", []))
                    for i in inputs
                    if i in sandbox.contacts
                ]
                missing = [i for i in inputs if i not in sandbox.contacts]
            return _batch(found, missing, "CONTACT")

        def batch_update(
            records: dict[str, _Object],
            known: dict[str, dict[str, Any]],
            category: str,
            apply: Callable[[str, dict[str, str]], None],
        ) -> Response:
            """HubSpot's batch update of one object type: all validated first, then each applied or missing."""
            inputs = (request.get_json(force=True) or {}).get("inputs", [])
            if len(inputs) > BATCH_LIMIT:
                return _error(400, "VALIDATION_ERROR", f"Batch input limit of {BATCH_LIMIT} exceeded")
            ids = [str(i.get("id")) for i in inputs]
            if len(set(ids)) != len(ids):
                return _error(
                    400,
                    "VALIDATION_ERROR",
                    "Duplicate IDs found in batch input: " + str(sorted({i for i in ids if ids.count(i) > 1})),
                )
            with sandbox.lock:
                for item in inputs:
                    problem = sandbox._validate(item.get("properties", {}), known)
                    if problem:
                        return _error(
                            400,
                            "VALIDATION_ERROR",
                            "Property values were not valid: " + json.dumps([problem]),
                            errors=[problem],
                        )
                results, missing = [], []
                for item in inputs:
                    record_id = str(item["id"])
                    if record_id not in records:
                        missing.append(record_id)
                        continue
                    values = {k: "" if v is None else str(v) for k, v in item["properties"].items()}
                    apply(record_id, values)
                    results.append(sandbox._serialize(records[record_id], list(values), known))
            return _batch(results, missing, category)

        def integration_writes_contact(contact_id: str, values: dict[str, str]) -> None:
            sandbox.writes.append((contact_id, values))
            sandbox.write_times.append((time.monotonic(), contact_id))
            sandbox._set(contact_id, values, "INTEGRATION", str(sandbox.app_id))

        def integration_writes_company(company_id: str, values: dict[str, str]) -> None:
            sandbox.company_writes.append((company_id, values))
            sandbox._set_company(company_id, values, "INTEGRATION", str(sandbox.app_id))

        @app.post("/crm/v3/objects/contacts/batch/update")
        def contacts_update() -> Response:
            return batch_update(sandbox.contacts, sandbox.properties, "CONTACT", integration_writes_contact)

        @app.post("/crm/v3/objects/deals/batch/read")
        def deals_read() -> Response:
            body = request.get_json(force=True) or {}
            inputs = [str(i.get("id")) for i in body.get("inputs", [])]
            with sandbox.lock:
                found = [
                    sandbox._serialize(sandbox.deals[i], body.get("properties", []))
                    for i in inputs
                    if i in sandbox.deals
                ]
            return _batch(found, [i for i in inputs if i not in sandbox.deals], "DEAL")

        @app.post("/crm/v4/associations/<from_type>/<to_type>/batch/read")
        def associations(from_type: str, to_type: str) -> Response:
            # HubSpot-defined association type ids, as documented for v4.
            type_ids = {("deals", "contacts"): 3, ("companies", "contacts"): 280, ("contacts", "companies"): 279}
            if (from_type, to_type) not in type_ids:
                return _error(
                    400, "VALIDATION_ERROR", f"unsupported association {from_type} -> {to_type} in this sandbox"
                )
            inputs = [str(i.get("id")) for i in (request.get_json(force=True) or {}).get("inputs", [])]
            if len(inputs) > ASSOCIATIONS_LIMIT:
                return _error(400, "VALIDATION_ERROR", f"Batch input limit of {ASSOCIATIONS_LIMIT} exceeded")
            results, empty = [], []
            with sandbox.lock:
                for from_id in inputs:
                    linked = sorted(sandbox._associated(from_type, to_type, from_id), key=int)
                    if not linked:
                        empty.append(from_id)
                        continue
                    to = [
                        {
                            "toObjectId": int(c),
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": type_ids[(from_type, to_type)], "label": None}
                            ],
                        }
                        for c in linked
                    ]
                    results.append({"from": {"id": from_id}, "to": to})
            if not empty:
                return _json(_envelope(results))
            errors = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {to_type} is associated with {from_type.rstrip('s')} {i}.",
                    "context": {"fromObjectId": [i]},
                    "links": {},
                    "errors": [],
                }
                for i in empty
            ]
            return _json({**_envelope(results), "numErrors": len(errors), "errors": errors}, 207)

        @app.get("/crm/v3/objects/companies/<company_id>")
        def get_company(company_id: str) -> Response:
            with sandbox.lock:
                obj = sandbox.companies.get(company_id)
                if obj is None:
                    return _error(404, "OBJECT_NOT_FOUND", "resource not found")
                return _json(sandbox._serialize(obj, _wanted(), sandbox.company_properties))

        @app.post("/crm/v3/objects/companies/batch/read")
        def companies_read() -> Response:
            body = request.get_json(force=True) or {}
            inputs = [str(i.get("id")) for i in body.get("inputs", [])]
            if len(inputs) > BATCH_LIMIT:
                return _error(400, "VALIDATION_ERROR", f"Batch input limit of {BATCH_LIMIT} exceeded")
            with sandbox.lock:
                found = [
                    sandbox._serialize(sandbox.companies[i], body.get("properties", []), sandbox.company_properties)
                    for i in inputs
                    if i in sandbox.companies
                ]
            return _batch(found, [i for i in inputs if i not in sandbox.companies], "COMPANY")

        @app.post("/crm/v3/objects/companies/batch/update")
        def companies_update() -> Response:
            return batch_update(sandbox.companies, sandbox.company_properties, "COMPANY", integration_writes_company)

        @app.get("/crm/v3/properties/<object_type>")
        def all_properties(object_type: str) -> Response:
            with sandbox.lock:
                return _json({"results": list(sandbox._props(object_type).values())})

        @app.get("/crm/v3/properties/<object_type>/<name>")
        def one_property(object_type: str, name: str) -> Response:
            with sandbox.lock:
                found = sandbox._props(object_type).get(name)
            return _json(found) if found else _error(404, "OBJECT_NOT_FOUND", f"Unable to find property {name}")

        @app.post("/crm/v3/properties/<object_type>")
        def create_property(object_type: str) -> Response:
            body = request.get_json(force=True) or {}
            name = str(body.get("name", ""))
            with sandbox.lock:
                known = sandbox._props(object_type)
                if name in known:
                    return _error(409, "OBJECT_ALREADY_EXISTS", f"Property {name} already exists")
                if body.get("groupName") not in sandbox._groups(object_type):
                    return _error(400, "VALIDATION_ERROR", f"property group {body.get('groupName')} does not exist")
                options = tuple(o["value"] for o in body.get("options") or [])
                created = sandbox._definition(name, body["type"], body["fieldType"], options, body["groupName"])
                created.update(label=body.get("label", name), description=body.get("description", ""))
                known[name] = created
            return _json(created, 201)

        @app.get("/crm/v3/properties/<object_type>/groups")
        def all_groups(object_type: str) -> Response:
            with sandbox.lock:
                return _json({"results": list(sandbox._groups(object_type).values())})

        @app.post("/crm/v3/properties/<object_type>/groups")
        def create_group(object_type: str) -> Response:
            body = request.get_json(force=True) or {}
            with sandbox.lock:
                groups = sandbox._groups(object_type)
                if body.get("name") in groups:
                    return _error(409, "OBJECT_ALREADY_EXISTS", f"Property group {body.get('name')} already exists")
                group = {
                    "name": body["name"],
                    "label": body.get("label", body["name"]),
                    "displayOrder": body.get("displayOrder", -1),
                    "archived": False,
                }
                groups[body["name"]] = group
            return _json(group, 201)

        sandbox.journal.register(app)
        return app


def _search(objects: list[_Object], body: dict[str, Any]) -> list[_Object]:
    """CRM search: filters ANDed within a group, groups ORed; sorted by one property (default: id)."""

    def value(obj: _Object, name: str) -> Any:
        text = obj.properties.get(name)
        if text is None:
            return None
        if name in ("createdate", "lastmodifieddate"):
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
        return float(text) if text.replace(".", "", 1).lstrip("-").isdigit() else text

    def passes(obj: _Object, rule: dict[str, Any]) -> bool:
        have = value(obj, rule.get("propertyName", ""))
        want: Any = rule.get("value")
        if isinstance(have, float):
            want = float(want) if want is not None and str(want).replace(".", "", 1).lstrip("-").isdigit() else None
            if want is None and rule.get("propertyName") in ("createdate", "lastmodifieddate"):
                want = datetime.fromisoformat(str(rule.get("value")).replace("Z", "+00:00")).timestamp() * 1000
        operator = rule.get("operator", "EQ")
        if operator == "HAS_PROPERTY":
            return have is not None
        if have is None or want is None:
            return False
        tests: dict[str, Callable[[Any, Any], bool]] = {
            "EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b, "GT": lambda a, b: a > b,
            "GTE": lambda a, b: a >= b, "LT": lambda a, b: a < b, "LTE": lambda a, b: a <= b,
        }  # fmt: skip
        return operator in tests and tests[operator](have, want)

    groups = body.get("filterGroups") or []
    chosen = [o for o in objects if not groups or any(all(passes(o, f) for f in g.get("filters", [])) for g in groups)]
    sorts = body.get("sorts") or []
    if sorts:
        sort = sorts[0] if isinstance(sorts[0], dict) else {"propertyName": str(sorts[0]).lstrip("-")}
        name = str(sort.get("propertyName", "hs_object_id"))
        descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
        chosen.sort(key=lambda o: (value(o, name) is None, value(o, name) or 0, int(o.id)), reverse=descending)
    else:
        chosen.sort(key=lambda o: int(o.id))
    return chosen


def _wanted() -> list[str] | None:
    raw = request.args.getlist("properties")
    names = [n for part in raw for n in part.split(",") if n]
    return names or None


def _envelope(results: list[dict[str, Any]]) -> dict[str, Any]:
    stamp = _now_iso()
    return {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}


def _batch(results: list[dict[str, Any]], missing: list[str], kind: str) -> Response:
    if not missing:
        return _json(_envelope(results))
    error = {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {kind} objects, they may be deleted or not exist. Check that ids are valid.",
        "context": {"ids": missing},
        "links": {},
        "errors": [],
    }
    return _json({**_envelope(results), "numErrors": 1, "errors": [error]}, 207)


def _seed(sandbox: HubSpotSandbox, count: int, rng: random.Random) -> None:
    titles = ["CEO", "Head of Marketing", "Marketing Manager", "Sales Representative", "Student"]
    for n in range(count):
        sandbox.create_contact(
            {
                "email": f"person{n}@example.com",
                "jobtitle": rng.choice(titles),
                "numemployees": rng.choice(["1-5", "25-50", "100-500", "1000+"]),
                "hs_analytics_source": rng.choice(["ORGANIC_SEARCH", "REFERRALS", "OFFLINE"]),
                "hs_analytics_num_page_views": str(rng.randint(0, 40)),
            }
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local HubSpot API sandbox for leadtherm.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="sandbox-token")
    parser.add_argument("--seed-contacts", type=int, default=0)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--client-secret", default="sandbox-secret")
    parser.add_argument("--client-id", default="sandbox-client-id", help="the app's, for the journal's tokens")
    args = parser.parse_args(argv)
    sandbox = HubSpotSandbox(access_token=args.token)
    sandbox.journal.client_id, sandbox.journal.client_secret = args.client_id, args.client_secret
    print(f"HubSpot sandbox on {sandbox.start(args.port)} (token {args.token!r})", flush=True)
    if args.webhook_url:
        sandbox.configure_webhooks(args.webhook_url, args.client_secret)
    _seed(sandbox, args.seed_contacts, random.Random(1))
    run_until_interrupted(sandbox.stop)


if __name__ == "__main__":
    main()
