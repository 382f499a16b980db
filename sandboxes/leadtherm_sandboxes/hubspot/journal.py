"""The HubSpot sandbox's webhooks journal (API 2026-03): tokens, subscriptions, entries, pre-signed files.

Documented by HubSpot and emulated as documented: `POST /oauth/v1/token` with
`grant_type=client_credentials` (scopes `developer.webhooks_journal.*`); the subscription
management API `/webhooks-journal/subscriptions/2026-03` (list, upsert, delete; no
`targetUrl`); the local and global journal `earliest`, `latest` and `offset/{offset}/next`,
each answering `{currentOffset, expiresAt, url}`, `next` failing with 404 for an offset that
expired or never existed; a `url` fetched without an Authorization header before `expiresAt`;
entries kept for 3 days.

Inferred (HubSpot does not document them): an entry's file is a JSON array of events shaped like
the v4 webhook events (`subscriptionType` OBJECT or GDPR_PRIVACY_DELETION, `action`, `objectTypeId`,
`objectId`, `propertyName`/`propertyValue`, `changeSource`, `sourceId`, `occurredAt`, and for a
merge `primaryObjectId`/`mergedObjectIds`/`newObjectId`); `next` on the newest entry answers 204;
`earliest`/`latest` on an empty journal answer 404; an expired file URL answers 403 like S3.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

VERSION = "2026-03"
RETENTION = 3 * 24 * 3600.0
READ_SCOPE = "developer.webhooks_journal.read"
SUBSCRIPTIONS_READ = "developer.webhooks_journal.subscriptions.read"
SUBSCRIPTIONS_WRITE = "developer.webhooks_journal.subscriptions.write"
TOKEN_PATH = "/oauth/v1/token"
FILES_PATH = "/webhooks-journal-files/"
# The sandbox's push kinds -> (subscriptionType, objectTypeId, action) of the v4 model.
_V4 = {
    "contact.creation": ("OBJECT", "0-1", "CREATE"),
    "contact.propertyChange": ("OBJECT", "0-1", "UPDATE"),
    "contact.deletion": ("OBJECT", "0-1", "DELETE"),
    "contact.merge": ("OBJECT", "0-1", "MERGE"),
    "contact.restore": ("OBJECT", "0-1", "RESTORE"),
    "contact.privacyDeletion": ("GDPR_PRIVACY_DELETION", "0-1", "GDPR_DELETE"),
    "deal.creation": ("OBJECT", "0-3", "CREATE"),
    "deal.propertyChange": ("OBJECT", "0-3", "UPDATE"),
    "company.creation": ("OBJECT", "0-2", "CREATE"),
    "company.propertyChange": ("OBJECT", "0-2", "UPDATE"),
    "company.deletion": ("OBJECT", "0-2", "DELETE"),
    "company.restore": ("OBJECT", "0-2", "RESTORE"),
}
Error = Callable[..., Response]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json;charset=utf-8")


def source_id_of(source: str, source_id: str | None) -> str:
    """The event's `sourceId`: the one given, else a portal user for a change made in the UI, else the source."""
    return source_id or ("userId:4021" if source == "CRM_UI" else source)


@dataclass
class Entry:
    seq: int
    offset: str
    written: float  # time.time()
    events: list[dict[str, Any]]


@dataclass
class JournalStats:
    tokens: int = 0
    reads: int = 0
    downloads: int = 0
    expired_downloads: int = 0
    authorized_downloads: int = 0  # a file requested with an Authorization header (refused)
    refused_tokens: int = 0  # 401s: a token used after it expired
    events: int = 0
    calls: list[str] = field(default_factory=list)


class Journal:
    """One app's journal of one portal, its subscriptions and its client-credentials tokens."""

    def __init__(
        self,
        portal_id: int,
        app_id: int,
        error: Error,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        token_lifetime: float = 1800.0,
        url_lifetime: float = 300.0,
        retention: float = RETENTION,
        max_entry_events: int = 100,
    ) -> None:
        self.portal_id, self.app_id = portal_id, app_id
        self.error = error
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime, self.url_lifetime, self.retention = token_lifetime, url_lifetime, retention
        self.max_entry_events = max_entry_events
        self.lock = threading.RLock()
        self.tokens: dict[str, tuple[float, frozenset[str]]] = {}  # token -> (expires, scopes)
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.entries: deque[Entry] = deque()
        self.offsets: dict[str, Entry] = {}
        self.stats = JournalStats()
        self._open: list[dict[str, Any]] = []
        self._seq = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._subscription_ids = itertools.count(7001)
        self._scripted: deque[int] = deque()
        self._stale_urls = 0
        self._signing_key = secrets.token_bytes(16)
        self.base_url = ""

    # ------------------------------------------------------------------ knobs
    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next journal or token requests with `status` (429 or 5xx)."""
        with self.lock:
            self._scripted.extend([status] * times)

    def expire(self, before: float | None = None) -> int:
        """Drop the entries written before `before` (default: now), as 3 days of retention would; how many."""
        cutoff = time.time() if before is None else before
        with self.lock:
            self._seal()
            return self._purge(cutoff)

    def expire_next_urls(self, times: int = 1) -> None:
        """The next journal answers carry a download URL already past its `expiresAt` (a slow client's)."""
        with self.lock:
            self._stale_urls += times

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: (0.0, scopes) for t, (_, scopes) in self.tokens.items()}

    def pending(self) -> int:
        """Events recorded and not yet in a sealed entry."""
        with self.lock:
            return len(self._open)

    # ------------------------------------------------------------------ recording
    def record(
        self,
        kind: str,
        object_id: str,
        prop: str | None,
        value: str | None,
        source: str,
        source_id: str | None,
        merge: dict[str, Any] | None = None,
    ) -> None:
        """A change the sandbox made: into the open entry if a subscription wants it."""
        shape = _V4.get(kind)
        if shape is None:
            return
        subscription_type, object_type, action = shape
        with self.lock:
            wanted = next(
                (
                    s
                    for s in self.subscriptions.values()
                    if s["subscriptionType"] == subscription_type
                    and s["objectTypeId"] == object_type
                    and action in s["actions"]
                    and (action != "UPDATE" or not s["properties"] or prop in s["properties"])
                ),
                None,
            )
            if wanted is None:
                return
            event: dict[str, Any] = {
                "eventId": next(self._event_ids),
                "subscriptionId": wanted["id"],
                "portalId": self.portal_id,
                "appId": self.app_id,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": subscription_type,
                "action": action,
                "objectTypeId": object_type,
                "objectId": int(object_id),
                "changeSource": source,
                "sourceId": source_id_of(source, source_id),
            }
            if prop is not None:
                event.update(propertyName=prop, propertyValue=value)
            if merge:
                event.update(merge)
            self._open.append(event)
            self.stats.events += 1
            if len(self._open) >= self.max_entry_events:
                self._seal()

    def _seal(self) -> None:
        if self._open:
            seq = next(self._seq)
            entry = Entry(seq, str(uuid.uuid4()), time.time(), self._open)
            self._open = []
            self.entries.append(entry)
            self.offsets[entry.offset] = entry

    def _purge(self, cutoff: float) -> int:
        dropped = 0
        while self.entries and self.entries[0].written < cutoff:
            gone = self.entries.popleft()
            del self.offsets[gone.offset]
            dropped += 1
        return dropped

    # ------------------------------------------------------------------ HTTP
    def owns(self, path: str) -> bool:
        return path == TOKEN_PATH or path.startswith(("/webhooks-journal/", FILES_PATH))

    def _gate(self, scope: str) -> Response | None:
        with self.lock:
            if self._scripted:
                status = self._scripted.popleft()
                if status == 429:
                    return self.error(
                        429, "RATE_LIMITS", "You have reached your secondly limit.", errorType="RATE_LIMIT"
                    )
                return self.error(status, "INTERNAL_ERROR", "internal error")
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            expires, scopes = self.tokens.get(token, (0.0, frozenset()))
        if expires <= time.time():
            with self.lock:
                self.stats.refused_tokens += 1
            return self.error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found or expired.")
        if scope not in scopes:
            return self.error(403, "MISSING_SCOPES", f"This app hasn't been granted all required scopes: {scope}")
        return None

    def _answer(self, entry: Entry | None, status_if_none: int, why: str) -> Response:
        if entry is None:
            if status_if_none == 204:
                return Response(status=204)
            return self.error(404, "OBJECT_NOT_FOUND", why)
        expires = time.time() + self.url_lifetime
        if self._stale_urls:
            self._stale_urls -= 1
            expires = time.time() - 1.0
        signature = self._sign(entry.offset, expires)
        url = f"{self.base_url}{FILES_PATH}{entry.offset}.json?expires={expires:.3f}&signature={signature}"
        return _json({"currentOffset": entry.offset, "expiresAt": _iso(expires), "url": url})

    def _sign(self, offset: str, expires: float) -> str:
        return hmac.new(self._signing_key, f"{offset}:{expires:.3f}".encode(), hashlib.sha256).hexdigest()

    def _read(self, which: str, offset: str | None = None) -> Response:
        problem = self._gate(READ_SCOPE)
        if problem is not None:
            return problem
        with self.lock:
            self.stats.reads += 1
            self._seal()
            self._purge(time.time() - self.retention)
            if which == "earliest":
                return self._answer(self.entries[0] if self.entries else None, 404, "the journal is empty")
            if which == "latest":
                return self._answer(self.entries[-1] if self.entries else None, 404, "the journal is empty")
            current = self.offsets.get(offset or "")
            if current is None:
                return self._answer(None, 404, f"offset {offset} has expired or does not exist")
            following = current.seq - self.entries[0].seq + 1
            return self._answer(self.entries[following] if following < len(self.entries) else None, 204, "")

    def register(self, app: Flask) -> None:
        journal = self

        @app.post(TOKEN_PATH)
        def token() -> Response:
            with journal.lock:
                if journal._scripted:
                    status = journal._scripted.popleft()
                    return journal.error(status, "INTERNAL_ERROR", "internal error")
            form = request.form
            if form.get("grant_type") != "client_credentials":
                return journal.error(400, "BAD_GRANT_TYPE", "grant_type must be client_credentials here")
            if form.get("client_id") != journal.client_id or form.get("client_secret") != journal.client_secret:
                return journal.error(400, "BAD_CLIENT_ID", "missing or invalid client_id or client_secret")
            scopes = frozenset((form.get("scope") or "").split())
            value = secrets.token_urlsafe(24)
            with journal.lock:
                journal.tokens[value] = (time.time() + journal.token_lifetime, scopes)
                journal.stats.tokens += 1
            return _json({"access_token": value, "token_type": "bearer", "expires_in": int(journal.token_lifetime)})

        for scope_kind in ("journal", "journal-local"):
            prefix = f"/webhooks-journal/{scope_kind}/{VERSION}"
            app.add_url_rule(f"{prefix}/earliest", f"{scope_kind}-earliest", lambda: journal._read("earliest"))
            app.add_url_rule(f"{prefix}/latest", f"{scope_kind}-latest", lambda: journal._read("latest"))
            app.add_url_rule(
                f"{prefix}/offset/<offset>/next", f"{scope_kind}-next", lambda offset: journal._read("next", offset)
            )

        @app.get(f"{FILES_PATH}<offset>.json")
        def download(offset: str) -> Response:
            if "Authorization" in request.headers:  # as S3: a pre-signed URL takes no second credential
                with journal.lock:
                    journal.stats.authorized_downloads += 1
                return Response(
                    "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
                    400,
                    mimetype="application/xml",
                )
            try:
                expires = float(request.args.get("expires", "0"))
            except ValueError:
                expires = 0.0
            signature = request.args.get("signature", "")
            if not hmac.compare_digest(signature, journal._sign(offset, expires)) or expires < time.time():
                with journal.lock:
                    journal.stats.expired_downloads += 1
                return Response(
                    "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                    403,
                    mimetype="application/xml",
                )
            with journal.lock:
                entry = journal.offsets.get(offset)
                journal.stats.downloads += 1
                if entry is None:
                    return Response("<Error><Code>NoSuchKey</Code></Error>", 404, mimetype="application/xml")
                return _json(entry.events)

        @app.get(f"/webhooks-journal/subscriptions/{VERSION}")
        def subscriptions() -> Response:
            problem = journal._gate(SUBSCRIPTIONS_READ)
            if problem is not None:
                return problem
            with journal.lock:
                return _json({"results": list(journal.subscriptions.values())})

        @app.post(f"/webhooks-journal/subscriptions/{VERSION}")
        def upsert() -> Response:
            problem = journal._gate(SUBSCRIPTIONS_WRITE)
            if problem is not None:
                return problem
            body = request.get_json(force=True) or {}
            missing = [k for k in ("subscriptionType", "actions", "objectTypeId") if not body.get(k)]
            if missing:
                return journal.error(400, "VALIDATION_ERROR", f"missing {', '.join(missing)}")
            now = _iso(time.time())
            with journal.lock:
                found = next(
                    (
                        s
                        for s in journal.subscriptions.values()
                        if s["subscriptionType"] == body["subscriptionType"]
                        and s["objectTypeId"] == body["objectTypeId"]
                        and s.get("portalId") == body.get("portalId")
                    ),
                    None,
                )
                if found is None:
                    found = {"id": next(journal._subscription_ids), "appId": journal.app_id, "createdAt": now}
                    journal.subscriptions[found["id"]] = found
                found.update(
                    subscriptionType=body["subscriptionType"],
                    objectTypeId=body["objectTypeId"],
                    portalId=body.get("portalId"),
                    actions=list(body["actions"]),
                    properties=list(body.get("properties") or []),
                    objectIds=list(body.get("objectIds") or []),
                    updatedAt=now,
                )
                return _json(found)

        @app.delete(f"/webhooks-journal/subscriptions/{VERSION}/<int:subscription_id>")
        def delete(subscription_id: int) -> Response:
            problem = journal._gate(SUBSCRIPTIONS_WRITE)
            if problem is not None:
                return problem
            with journal.lock:
                if journal.subscriptions.pop(subscription_id, None) is None:
                    return journal.error(404, "OBJECT_NOT_FOUND", f"no subscription {subscription_id}")
            return Response(status=204)
