"""A local HTTPS emulator of the Salesforce APIs leadtherm uses, faithful to the documented formats.

SOAP login and sessions (401 INVALID_SESSION_ID once expired), `oauth2/userinfo`, SOQL queries
(the subset leadtherm issues, over Leads, Contacts, Accounts and Opportunities, an Account's Contacts as a parent-to-child subquery) with `nextRecordsUrl` paging, describe, sObject create, sObject
Collections updates with per-record results in request order, the Tooling API's CustomField,
field-level security (a custom field is invisible until a permission set granting it is assigned
to the user), `Sforce-Limit-Info` on every answer and REQUEST_LIMIT_EXCEEDED past the daily
limit, fault knobs, and SOAP outbound messages (at most 100 notifications) retried until acked.
It serves TLS with a trustme CA because simple-salesforce only speaks HTTPS. Bulk API 2.0 query and
update jobs complete at once; the OAuth token endpoint takes JWT bearer and password grants. Runnable alone: `python -m leadtherm_sandboxes.salesforce.sandbox`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import heapq
import hmac
import io
import itertools
import json
import random
import re
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import jwt
import requests
import trustme
from defusedxml.ElementTree import fromstring
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from leadtherm_sandboxes.waiting import run_until_interrupted, wait_until

API = "59.0"
COLLECTION_LIMIT = 200
QUERY_BATCH = 2000
STANDARD: dict[str, dict[str, str]] = {
    "Lead": {
        "Id": "id", "FirstName": "string", "LastName": "string", "Email": "email", "Title": "string",
        "Company": "string", "NumberOfEmployees": "int", "AnnualRevenue": "currency", "Industry": "picklist",
        "Country": "string", "LeadSource": "picklist", "Status": "picklist", "Rating": "picklist",
        "HasOptedOutOfEmail": "boolean", "EmailBouncedReason": "string", "IsConverted": "boolean",
        "ConvertedContactId": "reference", "ConvertedOpportunityId": "reference", "LastActivityDate": "date",
        "ConvertedAccountId": "reference",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime", "LastModifiedById": "reference", "SystemModstamp": "datetime",
    },
    "Contact": {
        "Id": "id", "FirstName": "string", "LastName": "string", "Email": "email", "Title": "string",
        "AccountId": "reference", "MailingCountry": "string", "LeadSource": "picklist", "HasOptedOutOfEmail": "boolean",
        "EmailBouncedReason": "string", "LastActivityDate": "date", "CreatedDate": "datetime",
        "LastModifiedDate": "datetime", "LastModifiedById": "reference", "SystemModstamp": "datetime",
    },
    "Account": {
        "Id": "id", "Name": "string", "Industry": "picklist", "NumberOfEmployees": "int",
        "AnnualRevenue": "currency", "BillingCountry": "string", "Type": "picklist", "CreatedDate": "datetime",
        "LastModifiedDate": "datetime", "LastModifiedById": "reference", "SystemModstamp": "datetime",
    },
    "Opportunity": {
        "Id": "id", "Name": "string", "StageName": "picklist", "IsClosed": "boolean", "IsWon": "boolean",
        "CloseDate": "date", "CreatedDate": "datetime", "LastModifiedDate": "datetime",
        "LastModifiedById": "reference", "SystemModstamp": "datetime",
    },
    "PermissionSet": {"Id": "id", "Name": "string", "Label": "string"},
    "FieldPermissions": {
        "Id": "id", "ParentId": "reference", "SobjectType": "string", "Field": "string",
        "PermissionsRead": "boolean", "PermissionsEdit": "boolean",
    },
    "PermissionSetAssignment": {"Id": "id", "AssigneeId": "reference", "PermissionSetId": "reference"},
    "User": {"Id": "id", "Username": "string"},
}  # fmt: skip
# Parent relationships a SELECT may traverse (`ConvertedContact.Email`, `ConvertedContact.Account.Industry`):
# (object, name) -> (reference, parent)
RELATIONSHIPS = {
    ("Lead", "ConvertedContact"): ("ConvertedContactId", "Contact"),
    ("Lead", "ConvertedOpportunity"): ("ConvertedOpportunityId", "Opportunity"),
    ("Contact", "Account"): ("AccountId", "Account"),
}
# What the standard Lead conversion copies onto a new Account (Company -> Name is given separately).
_TO_ACCOUNT = {"Industry": "Industry", "NumberOfEmployees": "NumberOfEmployees", "AnnualRevenue": "AnnualRevenue",
               "Country": "BillingCountry"}  # fmt: skip
# Child relationships a SELECT may nest as a subquery (`(SELECT Id FROM Contacts)` on Account):
# (object, relationship name) -> (child object, its reference to the object). Lead's ConvertedAccountId has no
# relationship name, so converted Leads cannot be nested under their Account.
CHILD_RELATIONSHIPS = {("Account", "Contacts"): ("Contact", "AccountId")}
PREFIX = {"Lead": "00Q", "Contact": "003", "Account": "001", "Opportunity": "006", "PermissionSet": "0PS", "FieldPermissions": "01k",
          "PermissionSetAssignment": "0Pa", "User": "005", "CustomField": "00N"}  # fmt: skip
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>\w+)(?:\s+ASC)?)?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SUBQUERY = re.compile(r"\(\s*SELECT\s+(?P<fields>[^()]+?)\s+FROM\s+(?P<relationship>\w+)\s*\)", re.IGNORECASE)
_CONDITION = re.compile(r"^\s*(\w+)\s*(=|>|<|IN)\s*(.+?)\s*$", re.IGNORECASE | re.DOTALL)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    body = [{"message": message, "errorCode": code, "fields": fields or []}]
    return Response(json.dumps(body), status=status, content_type="application/json;charset=UTF-8")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json;charset=UTF-8")


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass(order=True)
class _Outbound:
    due: float
    seq: int
    notifications: list[dict[str, Any]] = field(compare=False)
    attempt: int = field(default=0, compare=False)


class SoqlError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class SalesforceSandbox:
    """An in-memory Salesforce org behind a real HTTPS server on 127.0.0.1."""

    def __init__(
        self,
        org_id: str = "00D5g000004XyZaEAK",
        username: str = "integration@leadtherm.example",
        password: str = "sandbox-password",
        security_token: str = "sandbox-token",
        daily_limit: int = 100_000,
        latency: float = 0.0,
        seed: int = 1,
    ) -> None:
        self.org_id, self.username, self.password, self.security_token = org_id, username, password, security_token
        self.daily_limit, self.latency = daily_limit, latency
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in STANDARD}
        self.custom_fields: dict[str, dict[str, Any]] = {}  # "Lead.X__c" -> metadata
        self.integration_user_id = self._id("User")
        self.objects["User"][self.integration_user_id] = {"Id": self.integration_user_id, "Username": username}
        self.sessions: set[str] = set()
        self.jwt_clients: dict[str, str] = {}  # External Client App consumer key -> PEM public key
        self.api_usage = 0
        self.calls: Counter[str] = Counter()
        self.writes: list[tuple[str, dict[str, Any]]] = []  # record id, fields written through the API
        self.write_times: list[tuple[float, str]] = []  # time.monotonic() of each write, record id
        # Change Data Capture (pubsub_sandbox): told (object, id, record or None once deleted) after each change
        self.observers: list[Callable[[str, str, dict[str, Any] | None], None]] = []
        self.fault_rate = 0.0
        self.faults_served = 0
        self._scripted: list[tuple[int, str]] = []
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}  # Bulk API 2.0 jobs
        # outbound messages
        self.outbound_url: str | None = None
        self.outbound_session: str | None = None  # sent as SessionId when "Send Session ID" is ticked
        self.outbound_fields: tuple[str, ...] = ("Id", "LastModifiedById")
        self.outbound_objects: tuple[str, ...] = ("Lead", "Contact")  # one outbound message rule per object
        self.time_scale = 0.001
        self.delivered = 0
        self.failed_attempts = 0
        self._pending: list[dict[str, Any]] = []
        self._retries: list[_Outbound] = []
        self._in_flight = 0  # batches taken off the queues whose POST has not ended: not flushed yet
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._folder = tempfile.TemporaryDirectory()
        self.ca = trustme.CA()
        self.ca_bundle_path = str(Path(self._folder.name) / "sandbox-ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_bundle_path)
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> str:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = make_server(
            "127.0.0.1", port, self.app, threaded=True, ssl_context=context, request_handler=_Quiet
        )
        threading.Thread(target=self._server.serve_forever, name="salesforce-sandbox", daemon=True).start()
        threading.Thread(target=self._deliver_loop, name="salesforce-outbound", daemon=True).start()
        return self.base_url

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the sandbox first"
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def login_domain(self) -> str:
        """What to pass as simple-salesforce's `domain` for a password login against this sandbox."""
        return f"127.0.0.1:{self.port}/services/Soap/u/{API}#"

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._folder.cleanup()

    # ------------------------------------------------------------------ Python API
    def issue_session(self) -> tuple[str, str]:
        token = f"{self.org_id}!{self.rng.getrandbits(96):024x}"
        with self.lock:
            self.sessions.add(token)
        return token, self.base_url

    @property
    def token_domain(self) -> str:
        """simple-salesforce's `domain` for the OAuth token endpoint (JWT bearer, password grant)."""
        return f"127.0.0.1:{self.port}/services/oauth2/token#"

    def register_jwt_client(self, consumer_key: str, public_key_pem: str) -> None:
        """An External Client App whose certificate verifies JWT bearer assertions."""
        self.jwt_clients[consumer_key] = public_key_pem

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def set_faults(self, rate: float = 0.0) -> None:
        self.fault_rate = rate

    def fail_next(self, status: int, code: str, times: int = 1) -> None:
        with self.lock:
            self._scripted.extend((status, code) for _ in range(times))

    def configure_outbound(
        self,
        url: str,
        fields: tuple[str, ...] = ("Id", "LastModifiedById"),
        time_scale: float = 0.001,
        send_session_id: bool = False,
        objects: tuple[str, ...] = ("Lead", "Contact"),
    ) -> None:
        """The outbound messages as an admin sets them up (one per object): `url` is the endpoint URL, secret included."""
        with self.lock:
            self.outbound_url, self.outbound_fields, self.time_scale = url, fields, time_scale
            self.outbound_objects = objects
            self.outbound_session = self.issue_session()[0] if send_session_id else None

    def send_flow_callout(self, url: str, secret: str, records: list[tuple[str, str]]) -> int:
        """What a record-triggered flow's HTTP callout (or Apex) sends: signed JSON; returns the status."""
        body = json.dumps({"records": [{"object": kind, "id": record_id} for kind, record_id in records]}).encode()
        stamp = int(time.time())
        signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Leadtherm-Signature": f"t={stamp},v1={signature}"}
        return requests.post(url, data=body, headers=headers, timeout=5).status_code

    def create_record(self, object_type: str, fields: dict[str, Any], by_user: str | None = None) -> str:
        with self.lock:
            record_id = self._id(object_type)
            record: dict[str, Any] = dict.fromkeys(STANDARD[object_type])
            stamp = _now()
            record.update(fields, Id=record_id, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
            if object_type in ("Lead", "Contact", "Account"):
                record["LastModifiedById"] = by_user or "0055g00000PersonAAA"
            if object_type == "Lead" and record.get("IsConverted") is None:
                record["IsConverted"] = False
            self.objects[object_type][record_id] = record
            self._notify(object_type, record_id)
            return record_id

    def create_lead(self, fields: dict[str, Any]) -> str:
        return self.create_record("Lead", {"LastName": "Unknown", "Company": "Unknown", "IsConverted": False, **fields})

    def update_record(
        self, object_type: str, record_id: str, fields: dict[str, Any], by_user: str | None = None
    ) -> None:
        with self.lock:
            record = self.objects[object_type][record_id]
            record.update(fields, LastModifiedDate=_now(), LastModifiedById=by_user or "0055g00000PersonAAA")
            self._notify(object_type, record_id)

    def convert_lead(self, lead_id: str, create_opportunity: bool = True, account_id: str | None = None) -> str:
        """Convert as the Convert button does: a Contact on an Account (a new one unless given), an open Opportunity."""
        with self.lock:
            lead = self.objects["Lead"][lead_id]
            if account_id is None:
                copied = {to: lead.get(of) for of, to in _TO_ACCOUNT.items()}
                account_id = self.create_record("Account", {"Name": lead.get("Company") or "Unknown", **copied})
            keep = {k: lead.get(k) for k in STANDARD["Contact"] if k in lead and k not in ("Id", "CreatedDate")}
            contact = {**keep, "MailingCountry": lead.get("Country"), "AccountId": account_id}
            contact_id = self.create_record("Contact", contact)
            opportunity_id = None
            if create_opportunity:
                opportunity_id = self.create_record(
                    "Opportunity",
                    {"Name": f"{lead.get('Company') or 'Unknown'}-", "StageName": "Prospecting", "IsClosed": False,
                     "IsWon": False},
                )  # fmt: skip
            self.update_record(
                "Lead",
                lead_id,
                {"IsConverted": True, "ConvertedContactId": contact_id, "ConvertedOpportunityId": opportunity_id,
                 "ConvertedAccountId": account_id, "Status": "Closed - Converted"},
            )  # fmt: skip
            return contact_id

    def close_opportunity(self, opportunity_id: str, won: bool) -> None:
        """Move an Opportunity to Closed Won or Closed Lost (IsClosed and IsWon follow the stage)."""
        stage = "Closed Won" if won else "Closed Lost"
        self.update_record("Opportunity", opportunity_id, {"StageName": stage, "IsClosed": True, "IsWon": won})

    def delete_record(self, object_type: str, record_id: str) -> None:
        with self.lock:
            del self.objects[object_type][record_id]
            for observe in self.observers:
                observe(object_type, record_id, None)

    def record(self, object_type: str, record_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.objects[object_type][record_id])

    def flush_outbound(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was made (or given up); False on timeout."""

        def drained() -> bool:
            with self.lock:
                return not self._pending and not self._retries and not self._in_flight

        return wait_until(drained, timeout)

    # ------------------------------------------------------------------ org internals
    def _id(self, object_type: str) -> str:
        body = f"{PREFIX[object_type]}5g{next(self._ids):010d}"
        return body + "AAA"  # 18 characters, like the API's ids

    def _visible(self, object_type: str) -> set[str]:
        """Standard fields plus the custom ones a permission set assigned to the user grants."""
        visible = set(STANDARD.get(object_type, {}))
        assigned = {a["PermissionSetId"] for a in self.objects["PermissionSetAssignment"].values()
                    if a["AssigneeId"] == self.integration_user_id}  # fmt: skip
        for grant in self.objects["FieldPermissions"].values():
            name = str(grant["Field"])
            granted = grant["ParentId"] in assigned and grant.get("PermissionsRead")
            if granted and name.startswith(f"{object_type}.") and name in self.custom_fields:
                visible.add(name.split(".", 1)[1])
        return visible

    def _notify(self, object_type: str, record_id: str) -> None:
        for observe in self.observers:
            observe(object_type, record_id, self.objects[object_type][record_id])
        if self.outbound_url is None or object_type not in self.outbound_objects:
            return
        record = self.objects[object_type][record_id]
        values = {f: record.get(f) for f in self.outbound_fields if f in record}
        self._pending.append({"Id": self._notification_id(), "type": object_type, "values": values})

    def _notification_id(self) -> str:
        return f"04l5g{next(self._ids):010d}AAA"

    # ------------------------------------------------------------------ outbound messages
    def outbound_body(self, notifications: list[dict[str, Any]]) -> bytes:
        items = []
        for n in notifications:
            fields = "".join(
                f"<sf:{k}>{escape(str(v).lower() if isinstance(v, bool) else str(v))}</sf:{k}>"
                for k, v in n["values"].items() if v is not None
            )  # fmt: skip
            items.append(
                f'<Notification><Id>{n["Id"]}</Id><sObject xsi:type="sf:{n["type"]}" '
                f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{fields}</sObject></Notification>'
            )
        token = self.outbound_session
        session = f"<SessionId>{escape(token)}</SessionId>" if token else '<SessionId xsi:nil="true"/>'
        return (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{self.org_id}</OrganizationId>'
            f"<ActionId>04k5g000000XyZaAAK</ActionId>{session}<EnterpriseUrl>{self.base_url}/services/Soap/c/{API}/"
            f"{self.org_id[:15]}</EnterpriseUrl><PartnerUrl>{self.base_url}/services/Soap/u/{API}/{self.org_id[:15]}</PartnerUrl>"
            + "".join(items)
            + "</notifications></soapenv:Body></soapenv:Envelope>"
        ).encode()

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                now = time.monotonic()
                if self._retries and self._retries[0].due <= now:
                    batch: _Outbound | None = heapq.heappop(self._retries)
                elif self._pending:
                    batch = _Outbound(now, next(self._seq), self._pending[:100])
                    self._pending = self._pending[100:]
                else:
                    batch = None
                self._in_flight += batch is not None
            if batch is None:
                time.sleep(0.01)
                continue
            try:
                self._deliver(batch)
            finally:
                with self.lock:
                    self._in_flight -= 1

    def _deliver(self, batch: _Outbound) -> None:
        url = self.outbound_url
        if url is None:
            return
        try:
            answer = requests.post(
                url, data=self.outbound_body(batch.notifications),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}, timeout=5,
            )  # fmt: skip
            acked = answer.status_code == 200 and b"<Ack>true</Ack>" in answer.content
        except requests.RequestException:
            acked = False
        with self.lock:
            if acked:
                self.delivered += len(batch.notifications)
                return
            self.failed_attempts += 1
            # Salesforce retries with growing intervals, up to 24 hours.
            delay = min(2**batch.attempt * 15, 7200) * self.time_scale
            heapq.heappush(
                self._retries,
                _Outbound(time.monotonic() + delay, next(self._seq), batch.notifications, batch.attempt + 1),
            )

    # ------------------------------------------------------------------ SOQL
    def _where(self, clause: str | None) -> list[tuple[str, str, Any]]:
        if not clause:
            return []
        conditions: list[tuple[str, str, Any]] = []
        for part in re.split(r"\s+AND\s+", clause, flags=re.IGNORECASE):
            match = _CONDITION.match(part)
            if not match:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: {part.strip()[:40]}")
            name, op, raw = match.group(1), match.group(2).upper(), match.group(3)
            values = [v.replace("\\'", "'") for v in _LITERAL.findall(raw)]
            if op == "IN":
                conditions.append((name, op, set(values)))
            elif values:
                conditions.append((name, op, values[0]))
            else:
                conditions.append((name, op, raw.strip()))
        return conditions

    def query(self, soql: str) -> dict[str, Any]:
        children: dict[str, list[str]] = {}  # parent-to-child subqueries in the SELECT list: relationship -> fields

        def nested(found: re.Match[str]) -> str:
            children[found.group("relationship")] = [f.strip() for f in found.group("fields").split(",")]
            return ""

        match = _SOQL.match(_SUBQUERY.sub(nested, soql))
        if not match:
            raise SoqlError("MALFORMED_QUERY", "unexpected query")
        object_type = match.group("object")
        if object_type not in STANDARD:
            raise SoqlError("INVALID_TYPE", f"sObject type '{object_type}' is not supported.")
        visible = self._visible(object_type)
        selected = [f.strip() for f in match.group("fields").split(",") if f.strip()]
        for relationship, names in children.items():
            child = CHILD_RELATIONSHIPS.get((object_type, relationship))
            if child is None:
                raise SoqlError(
                    "INVALID_TYPE",
                    f"Didn't understand relationship '{relationship}' in FROM part of query call. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                    "entity name.",
                )
            unknown = [n for n in names if n not in self._visible(child[0])]
            if unknown:
                raise SoqlError("INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{child[0]}'.")
        if selected == ["COUNT()"]:
            rows = self._filter(object_type, self._where(match.group("where")), visible)
            return {"totalSize": len(rows), "done": True, "records": []}
        parents: dict[str, list[str]] = {}  # relationship -> its fields selected (maybe through further parents)
        for name in selected:
            relationship, dot, parent_field = name.partition(".")
            if dot:
                parents.setdefault(relationship, []).append(parent_field)
            if not self._selectable(object_type, name):
                raise SoqlError(
                    "INVALID_FIELD",
                    f"\n{', '.join(selected)}\n  ^\nERROR at Row:1:Column:8\nNo such column '{name}' on entity '{object_type}'.",
                )
        rows = self._filter(object_type, self._where(match.group("where")), visible)
        if match.group("order"):
            rows.sort(key=lambda r: str(r.get(match.group("order")) or ""))
        if match.group("limit"):
            rows = rows[: int(match.group("limit"))]
        records = [
            {**_sobject(object_type, r, [n for n in selected if "." not in n]),
             **{rel: self._parent(object_type, rel, r, names) for rel, names in parents.items()},
             **{rel: self._children(object_type, rel, r, names) for rel, names in children.items()}}
            for r in rows
        ]  # fmt: skip
        return self._page(records, 0)

    def _children(self, object_type: str, relationship: str, row: dict[str, Any], names: list[str]) -> Any:
        """A child relationship as the REST API nests it: a query result of the child rows, or null for none."""
        child_type, reference = CHILD_RELATIONSHIPS[(object_type, relationship)]
        own = str(row["Id"])[:15]
        rows = [c for c in self.objects[child_type].values() if str(c.get(reference) or "")[:15] == own]
        if not rows:
            return None
        rows.sort(key=lambda r: str(r["Id"]))
        return {"totalSize": len(rows), "done": True, "records": [_sobject(child_type, c, names) for c in rows]}

    def _selectable(self, object_type: str, name: str) -> bool:
        """A visible field, or one of a parent's through relationships (`ConvertedContact.Account.Industry`)."""
        relationship, dot, rest = name.partition(".")
        if not dot:
            return name in self._visible(object_type)
        parent = RELATIONSHIPS.get((object_type, relationship))
        return parent is not None and self._selectable(parent[1], rest)

    def _parent(self, object_type: str, relationship: str, row: dict[str, Any], names: list[str]) -> Any:
        """A parent relationship as the REST API nests it: the parent's selected fields (its parents nested), or null."""
        reference, parent_type = RELATIONSHIPS[(object_type, relationship)]
        parent = self.objects[parent_type].get(str(row.get(reference)))
        if parent is None:
            return None
        grandparents: dict[str, list[str]] = {}
        for name in names:
            further, dot, rest = name.partition(".")
            if dot:
                grandparents.setdefault(further, []).append(rest)
        own = _sobject(parent_type, parent, [n for n in names if "." not in n])
        return own | {rel: self._parent(parent_type, rel, parent, inner) for rel, inner in grandparents.items()}

    def _filter(
        self, object_type: str, conditions: list[tuple[str, str, Any]], visible: set[str]
    ) -> list[dict[str, Any]]:
        for name, _, _ in conditions:
            if name not in visible:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{object_type}'.")
        rows = []
        for record in self.objects[object_type].values():
            ok = True
            for name, op, value in conditions:
                held = str(record.get(name))
                if name.endswith("Id") and len(held) == 18:  # Id and every reference field
                    # Salesforce matches a 15-character id against its 18-character form.
                    if op == "IN":
                        value = {v[:15] for v in value}
                    elif op == "=":
                        value = str(value)[:15]
                    held = held[:15] if op in ("IN", "=") else held
                ok = ok and ((op == "=" and held == value) or (op == "IN" and held in value)
                             or (op == ">" and held > str(value)) or (op == "<" and held < str(value)))  # fmt: skip
            if ok:
                rows.append(record)
        return sorted(rows, key=lambda r: str(r["Id"]))

    def _page(self, records: list[dict[str, Any]], start: int) -> dict[str, Any]:
        chunk = records[start : start + QUERY_BATCH]
        body: dict[str, Any] = {
            "totalSize": len(records),
            "done": start + QUERY_BATCH >= len(records),
            "records": chunk,
        }
        if not body["done"]:
            locator = f"01g5g{next(self._ids):010d}AAA"
            self._cursors[locator] = (records, start + QUERY_BATCH)
            body["nextRecordsUrl"] = f"/services/data/v{API}/query/{locator}-{start + QUERY_BATCH}"
        return body

    # ------------------------------------------------------------------ writes
    def _update_one(self, item: dict[str, Any], by_user: str) -> dict[str, Any]:
        object_type = str((item.get("attributes") or {}).get("type", ""))
        record_id = str(item.get("id") or item.get("Id") or "")
        values = {k: v for k, v in item.items() if k not in ("attributes", "id", "Id")}
        store = self.objects.get(object_type)
        if store is None:
            return _failure(record_id, "INVALID_TYPE", f"sObject type '{object_type}' is not supported", [])
        record = store.get(record_id) or next((r for i, r in store.items() if i[:15] == record_id[:15]), None)
        if record is None:
            return _failure(record_id, "ENTITY_IS_DELETED", "entity is deleted", [])
        visible = self._visible(object_type)
        unknown = [k for k in values if k not in visible]
        if unknown:
            return _failure(
                record_id, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {object_type}", unknown
            )
        if object_type == "Lead" and record.get("IsConverted"):
            return _failure(record_id, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
        for name, value in values.items():
            metadata = self.custom_fields.get(f"{object_type}.{name}", {})
            options = [
                v["fullName"] for v in metadata.get("valueSet", {}).get("valueSetDefinition", {}).get("value", [])
            ]
            if options and value is not None and value not in options:
                return _failure(
                    record_id,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"bad value for restricted picklist field: {value}",
                    [name],
                )
        record.update(values, LastModifiedDate=_now(), LastModifiedById=by_user, SystemModstamp=_now())
        self.writes.append((record["Id"], values))
        self.write_times.append((time.monotonic(), record["Id"]))
        self._notify(object_type, record["Id"])
        return {"id": record["Id"], "success": True, "errors": []}

    # ------------------------------------------------------------------ HTTP
    def _gate(self) -> Response | None:
        if self.latency:
            time.sleep(self.latency)
        path = request.path
        # /sandbox/: the sandbox's own stand-ins for what a person does in the UI (no API session)
        if path.startswith(("/services/Soap/u/", "/sandbox/")) or path == "/services/oauth2/token":
            return None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("OAuth ").strip()
        with self.lock:
            if token not in self.sessions:
                return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
            self.api_usage += 1
            if self.api_usage > self.daily_limit:
                return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            scripted = self._scripted.pop(0) if self._scripted else None
            roll = self.rng.random()
        if scripted is not None:
            self.faults_served += 1
            return _errors(scripted[0], scripted[1], "injected fault")
        if roll < self.fault_rate:
            self.faults_served += 1
            return _errors(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable")
        return None

    def _build_app(self) -> Flask:
        app = Flask("salesforce-sandbox")
        sb = self
        data = f"/services/data/v{API}"

        @app.before_request
        def gate() -> Response | None:
            sb.calls[request.url_rule.rule if request.url_rule else request.path] += 1
            return sb._gate()

        @app.after_request
        def limits(answer: Response) -> Response:
            answer.headers["Sforce-Limit-Info"] = f"api-usage={sb.api_usage}/{sb.daily_limit}"
            return answer

        @app.errorhandler(Exception)
        def crash(exc: Exception) -> Response:  # the emulator's own bugs still answer like Salesforce
            code = getattr(exc, "code", 500)
            status = code if isinstance(code, int) else 500
            return _errors(status, "NOT_FOUND" if status == 404 else "UNKNOWN_EXCEPTION", str(exc))

        @app.post("/services/Soap/u/<version>")
        def soap_login(version: str) -> Response:
            root = fromstring(request.get_data(), forbid_dtd=True)
            values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
            if values.get("username") != sb.username or values.get("password") != sb.password + sb.security_token:
                fault = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
                         '<soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, '
                         "password, security token; or user locked out.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>")  # fmt: skip
                return Response(fault, status=500, content_type="text/xml; charset=utf-8")
            token, _ = sb.issue_session()
            body = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                    'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
                    f"<metadataServerUrl>{sb.base_url}/services/Soap/m/{version}/{sb.org_id[:15]}</metadataServerUrl>"
                    f"<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
                    f"<serverUrl>{sb.base_url}/services/Soap/u/{version}/{sb.org_id[:15]}</serverUrl>"
                    f"<sessionId>{token}</sessionId><userId>{sb.integration_user_id}</userId>"
                    f"<userInfo><organizationId>{sb.org_id}</organizationId><userId>{sb.integration_user_id}</userId>"
                    f"<userName>{escape(sb.username)}</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>")  # fmt: skip
            return Response(body, content_type="text/xml; charset=utf-8")

        @app.post("/services/oauth2/token")
        def oauth_token() -> Response:
            form = request.form
            grant = form.get("grant_type", "")
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                try:
                    unverified = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
                    key = sb.jwt_clients[str(unverified.get("iss"))]
                    claims = jwt.decode(form["assertion"], key, algorithms=["RS256"], options={"verify_aud": False})
                except (jwt.PyJWTError, KeyError):
                    return _json({"error": "invalid_grant", "error_description": "invalid assertion"}, 400)
                if claims.get("sub") != sb.username:
                    return _json(
                        {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}, 400
                    )
            elif grant == "password":
                if form.get("username") != sb.username or form.get("password") != sb.password + sb.security_token:
                    return _json({"error": "invalid_grant", "error_description": "authentication failure"}, 400)
            else:
                return _json({"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400)
            token, base = sb.issue_session()
            return _json({"access_token": token, "instance_url": base, "id": f"{base}/id/{sb.org_id}/{sb.integration_user_id}",
                          "token_type": "Bearer", "issued_at": str(int(time.time() * 1000))})  # fmt: skip

        @app.get("/services/oauth2/userinfo")
        def userinfo() -> Response:
            return _json(
                {"user_id": sb.integration_user_id, "organization_id": sb.org_id, "preferred_username": sb.username}
            )

        @app.get(f"{data}/query/")
        @app.get(f"{data}/query")
        @app.get(f"{data}/tooling/query/")
        @app.get(f"{data}/tooling/query")
        def query() -> Response:
            soql = request.args.get("q", "")
            if len(request.full_path) > 16_384:
                return _errors(414, "URI_TOO_LONG", "URI Too Long")
            with sb.lock:
                if "/tooling/" in request.path:
                    return _json(sb._tooling_query(soql))
                try:
                    return _json(sb.query(soql))
                except SoqlError as exc:
                    return _errors(400, exc.code, str(exc))

        @app.get(f"{data}/query/<locator>")
        def query_more(locator: str) -> Response:
            key, _, start = locator.rpartition("-")
            with sb.lock:
                found = sb._cursors.get(key)
                if found is None:
                    return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
                return _json(sb._page(found[0], int(start)))

        @app.get(f"{data}/sobjects/<object_type>/describe/")
        @app.get(f"{data}/sobjects/<object_type>/describe")
        def describe(object_type: str) -> Response:
            with sb.lock:
                if object_type not in STANDARD:
                    return _errors(404, "NOT_FOUND", "The requested resource does not exist")
                kinds = {**STANDARD[object_type]}
                for name in sb._visible(object_type):
                    if name not in kinds:
                        meta = sb.custom_fields[f"{object_type}.{name}"]
                        kinds[name] = {"Number": "double", "Picklist": "picklist", "LongTextArea": "textarea",
                                       "Text": "string", "DateTime": "datetime", "Checkbox": "boolean"}[meta["type"]]  # fmt: skip
                fields = [
                    {"name": n, "type": t, "updateable": n not in ("Id", "IsConverted"), "custom": n.endswith("__c")}
                    | _relationship(object_type, n)
                    for n, t in kinds.items()
                ]
            return _json({"name": object_type, "fields": fields, "updateable": True, "queryable": True})

        @app.post(f"{data}/sobjects/<object_type>/")
        @app.post(f"{data}/sobjects/<object_type>")
        def create(object_type: str) -> Response:
            values = request.get_json(force=True) or {}
            with sb.lock:
                if object_type not in STANDARD:
                    return _errors(404, "NOT_FOUND", "The requested resource does not exist")
                unknown = [k for k in values if k not in STANDARD[object_type] and k not in sb._visible(object_type)]
                if unknown:
                    return _errors(
                        400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {object_type}", unknown
                    )
                if object_type == "FieldPermissions":
                    duplicate = any(g["ParentId"] == values.get("ParentId") and g["Field"] == values.get("Field")
                                    for g in sb.objects["FieldPermissions"].values())  # fmt: skip
                    if duplicate:
                        return _errors(400, "DUPLICATE_VALUE", "duplicate value found: Field")
                record_id = sb.create_record(object_type, values, by_user=sb.integration_user_id)
            return _json({"id": record_id, "success": True, "errors": []}, 201)

        @app.route(f"{data}/composite/sobjects", methods=["PATCH"])
        def collections() -> Response:
            body = request.get_json(force=True) or {}
            records = body.get("records") or []
            if len(records) > COLLECTION_LIMIT:
                return _errors(
                    400,
                    "EXCEEDED_ID_LIMIT",
                    f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
                )
            with sb.lock:
                results = [sb._update_one(item, sb.integration_user_id) for item in records]
            return _json(results)

        @app.post(f"{data}/jobs/query")
        def bulk_query_job() -> Response:
            body = request.get_json(force=True) or {}
            with sb.lock:
                try:
                    rows = sb.query_rows(str(body.get("query", "")))
                except SoqlError as exc:
                    return _errors(400, exc.code, str(exc))
                job_id = f"7505g{next(sb._ids):010d}AAA"
                sb.jobs[job_id] = {"id": job_id, "operation": "query", "state": "JobComplete", "rows": rows}
            return _json({"id": job_id, "operation": "query", "state": "UploadComplete", "contentType": "CSV"})

        @app.get(f"{data}/jobs/<kind>/<job_id>")
        def bulk_job(kind: str, job_id: str) -> Response:
            with sb.lock:
                job = sb.jobs.get(job_id)
                if job is None:
                    return _errors(404, "NOT_FOUND", "job not found")
                return _json({k: v for k, v in job.items() if k not in ("rows", "csv", "results")})

        @app.get(f"{data}/jobs/query/<job_id>/results")
        def bulk_results(job_id: str) -> Response:
            size = int(request.args.get("maxRecords", QUERY_BATCH))
            start = int(request.args.get("locator") or 0)
            with sb.lock:
                rows = sb.jobs[job_id]["rows"]
            chunk = rows[start : start + size]
            following = start + size if start + size < len(rows) else None
            answer = Response(_csv(chunk, list(rows[0]) if rows else ["Id"]), content_type="text/csv")
            answer.headers["Sforce-Locator"] = str(following) if following is not None else "null"
            answer.headers["Sforce-NumberOfRecords"] = str(len(chunk))
            return answer

        @app.post(f"{data}/jobs/ingest")
        def bulk_ingest_job() -> Response:
            body = request.get_json(force=True) or {}
            job_id = f"7505g{next(sb._ids):010d}AAA"
            with sb.lock:
                sb.jobs[job_id] = {"id": job_id, "operation": body.get("operation"), "object": body.get("object"),
                                   "state": "Open", "csv": "", "numberRecordsProcessed": 0, "numberRecordsFailed": 0}  # fmt: skip
            return _json(sb.jobs[job_id] | {"csv": None})

        @app.put(f"{data}/jobs/ingest/<job_id>/batches")
        def bulk_upload(job_id: str) -> Response:
            with sb.lock:
                sb.jobs[job_id]["csv"] += request.get_data(as_text=True)
            return Response(status=201)

        @app.route(f"{data}/jobs/ingest/<job_id>", methods=["PATCH"])
        def bulk_close(job_id: str) -> Response:
            with sb.lock:
                job = sb.jobs[job_id]
                if (request.get_json(force=True) or {}).get("state") == "UploadComplete":
                    job["results"] = sb._ingest(job)
                    job["state"] = "JobComplete"
                return _json({k: v for k, v in job.items() if k not in ("csv", "results")})

        @app.get(f"{data}/jobs/ingest/<job_id>/<results>")
        def bulk_ingest_results(job_id: str, results: str) -> Response:
            with sb.lock:
                outcome = sb.jobs[job_id].get("results", [])
            if results == "failedResults":
                rows = [{"sf__Id": i, "sf__Error": e} for i, e in outcome if e]
                return Response(_csv(rows, ["sf__Id", "sf__Error"]), content_type="text/csv")
            rows = [{"sf__Id": i, "sf__Created": "false"} for i, e in outcome if not e]
            return Response(_csv(rows, ["sf__Id", "sf__Created"]), content_type="text/csv")

        @app.post(f"{data}/tooling/sobjects/CustomField/")
        @app.post(f"{data}/tooling/sobjects/CustomField")
        def custom_field() -> Response:
            body = request.get_json(force=True) or {}
            full_name = str(body.get("FullName", ""))
            object_type, _, name = full_name.partition(".")
            with sb.lock:
                if object_type not in ("Lead", "Contact", "Account") or not name.endswith("__c"):
                    return _errors(400, "FIELD_INTEGRITY_EXCEPTION", f"invalid FullName {full_name}")
                if full_name in sb.custom_fields:
                    return _errors(400, "DUPLICATE_DEVELOPER_NAME", "This field name is already in use.")
                sb.custom_fields[full_name] = dict(body.get("Metadata") or {})
                for record in sb.objects[object_type].values():
                    record.setdefault(name, False if sb.custom_fields[full_name].get("type") == "Checkbox" else None)
            return _json({"id": sb._id("CustomField"), "success": True, "errors": []}, 201)

        return app

    def query_rows(self, soql: str) -> list[dict[str, Any]]:
        """A query's rows without paging (what a Bulk API 2.0 query job extracts)."""
        answer = self.query(soql)
        rows = list(answer["records"])
        locator = answer.get("nextRecordsUrl")
        while locator:
            key, _, start = locator.rsplit("/", 1)[-1].rpartition("-")
            page = self._page(self._cursors[key][0], int(start))
            rows.extend(page["records"])
            locator = page.get("nextRecordsUrl")
        selected = [f.strip() for f in (_SOQL.match(soql) or _never()).group("fields").split(",")]
        return [_dotted(r, selected) for r in rows]

    def _ingest(self, job: dict[str, Any]) -> list[tuple[str, str]]:
        """Apply an update job's CSV row by row: (record id, error or "")."""
        outcome = []
        for row in csv.DictReader(io.StringIO(job["csv"])):
            values: dict[str, Any] = {k: (None if v == "" else v) for k, v in row.items()}
            for name, value in list(values.items()):
                kind = self.custom_fields.get(f"{job['object']}.{name}", {}).get("type")
                if value is not None and kind == "Number":
                    values[name] = float(value)
                elif value is not None and kind == "Checkbox":
                    values[name] = value.lower() == "true"
            result = self._update_one({"attributes": {"type": job["object"]}, **values}, self.integration_user_id)
            error = "" if result["success"] else f"{result['errors'][0]['statusCode']}:{result['errors'][0]['message']}"
            outcome.append((str(values.get("Id")), error))
        job["numberRecordsProcessed"] = len(outcome)
        job["numberRecordsFailed"] = sum(1 for _, e in outcome if e)
        return outcome

    def _tooling_query(self, soql: str) -> dict[str, Any]:
        match = re.search(r"TableEnumOrId\s*=\s*'(\w+)'", soql)
        table = match.group(1) if match else None
        records = [
            {"attributes": {"type": "CustomField"}, "DeveloperName": name.removesuffix("__c"), "TableEnumOrId": obj}
            for full in self.custom_fields for obj, _, name in [full.partition(".")] if table in (None, obj)
        ]  # fmt: skip
        return {"size": len(records), "totalSize": len(records), "done": True, "records": records}


def _sobject(object_type: str, row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    url = f"/services/data/v{API}/sobjects/{object_type}/{row['Id']}"
    return {"attributes": {"type": object_type, "url": url}, **{name: row.get(name) for name in names}}


def _relationship(object_type: str, field_name: str) -> dict[str, Any]:
    """describe's relationshipName and referenceTo of a reference field a SELECT may traverse."""
    for (owner, name), (reference, parent) in RELATIONSHIPS.items():
        if owner == object_type and reference == field_name:
            return {"relationshipName": name, "referenceTo": [parent]}
    return {}


def _never() -> re.Match[str]:
    raise SoqlError("MALFORMED_QUERY", "unexpected query")


def _dotted(record: dict[str, Any], selected: list[str]) -> dict[str, Any]:
    """A REST record as Bulk API 2.0 writes it: parent fields as `Relationship.Field` columns."""
    flat: dict[str, Any] = {}
    for name in selected:
        value: Any = record
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        flat[name] = value
    return flat


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: ("" if v is None else str(v).lower() if isinstance(v, bool) else v) for k, v in row.items()}
        )
    return out.getvalue()


def _failure(record_id: str, code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {
        "id": record_id or None,
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields}],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local Salesforce API sandbox (HTTPS) for leadtherm.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed-leads", type=int, default=0)
    args = parser.parse_args(argv)
    sandbox = SalesforceSandbox()
    base = sandbox.start(args.port)
    token, _ = sandbox.issue_session()
    for n in range(args.seed_leads):
        sandbox.create_lead({"Email": f"lead{n}@example.com", "Title": "CEO", "LeadSource": "Web"})
    print(f"Salesforce sandbox on {base}\nCA bundle: {sandbox.ca_bundle_path}\nsession: {token}", flush=True)
    run_until_interrupted(sandbox.stop)


if __name__ == "__main__":
    main()
