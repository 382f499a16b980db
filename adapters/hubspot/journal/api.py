"""The journal's HTTP calls: a client-credentials token, the journal reads, the subscriptions, the entry files.

hubspot-api-client (up to the installed version) has no webhooks-journal API, so requests are
built by its generic `api_request` builder on one `HubSpot` client (base URL, bearer token,
headers in one place) and sent with a timeout, which `api_request` itself lacks. The entry
file's pre-signed `url` is fetched with plain `requests` and no Authorization header: it carries
its own signature, and a second credential makes the storage refuse it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from hubspot import HubSpot
from hubspot.utils.requests.http_request_builder import Request
from urllib3.util.retry import Retry

from integration.errors import (
    AuthError,
    CrmError,
    PermanentCrmError,
    RateLimited,
    RetriableCrmError,
    UnexpectedAnswer,
)
from integration.service.retry import POLICY, retry_on_rate_limit

log = logging.getLogger("leadtherm.hubspot.journal")

VERSION = "2026-03"
SCOPES = (
    "developer.webhooks_journal.read",
    "developer.webhooks_journal.subscriptions.read",
    "developer.webhooks_journal.subscriptions.write",
)
REFRESH_BEFORE = 0.1  # of a token's lifetime: renewed when this little of it is left (30 min -> 3 min)


class UrlExpired(CrmError):
    """The pre-signed URL passed its `expiresAt` before the download: ask the journal for the entry again."""


class OffsetExpired(PermanentCrmError):
    """`next` answered 404: the offset is older than the 3 days HubSpot keeps, or was never HubSpot's."""


@dataclass(frozen=True)
class Pointer:
    """One journal answer: the entry's offset and where to download it before `expires_at`."""

    offset: str
    url: str
    expires_at: datetime | None


def _message(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    if isinstance(body, dict):
        return f"{body.get('category') or body.get('status') or answer.status_code}: {body.get('message', '')}".strip()
    return f"HTTP {answer.status_code}"


def _retry_after(answer: requests.Response) -> float | None:
    value = answer.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _raise_for(answer: requests.Response, what: str) -> None:
    status = answer.status_code
    if status < 400:
        return
    if status == 429:
        raise RateLimited(f"HubSpot journal rate limit on {what}: {_message(answer)}", _retry_after(answer))
    if status >= 500:
        raise RetriableCrmError(f"HubSpot journal error on {what}: {_message(answer)}")
    if status in (401, 403):
        raise AuthError(
            f"HubSpot refused the journal token on {what} ({_message(answer)}); check HUBSPOT_CLIENT_ID, "
            f"HUBSPOT_CLIENT_SECRET and the app's scopes ({', '.join(SCOPES)})"
        )
    raise PermanentCrmError(f"HubSpot rejected {what}: {_message(answer)}")


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class JournalApi:
    """The journal endpoints of one app and one account, with its token renewed before it expires."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        portal_id: int,
        api_base: str,
        timeout: float = POLICY.request_timeout,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client_id, self.client_secret, self.portal_id = client_id, client_secret, portal_id
        # Retries are leadtherm's policy (tenacity), not urllib3's; base URL and token live in the SDK client.
        self.api = HubSpot(host=api_base.rstrip("/"), retry=Retry(total=0, redirect=0))
        self.api.config["base_url"] = api_base.rstrip("/")
        self.timeout = timeout
        self.sleep = sleep
        self.session = requests.Session()
        self.files = requests.Session()  # the pre-signed downloads: never a credential on these
        self._lock = threading.Lock()
        self._expires = 0.0  # time.monotonic() after which the token is renewed
        self.tokens_fetched = 0

    # ------------------------------------------------------------------ transport
    def _send(self, options: dict[str, Any], what: str, authorized: bool = True) -> requests.Response:
        request = Request(self.api.config, options)
        headers = dict(request.headers)
        if not authorized:
            headers.pop("Authorization", None)
        try:
            answer = self.session.request(
                request.get_method(), request.get_url(), headers=headers, data=request.body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise RetriableCrmError(f"HubSpot journal unreachable on {what} ({type(exc).__name__})") from exc
        return answer

    def _call(self, options: dict[str, Any], what: str) -> requests.Response:
        """One authorized request, retried on 429/5xx/timeouts; a refused token is renewed once."""

        def attempt() -> requests.Response:
            self.ensure_token()
            answer = self._send(options, what)
            if answer.status_code == 401:
                self.ensure_token(force=True)
                answer = self._send(options, what)
            if answer.status_code != 404:
                _raise_for(answer, what)
            return answer

        return retry_on_rate_limit(sleep=self.sleep)(attempt)

    # ------------------------------------------------------------------ token
    def ensure_token(self, force: bool = False) -> str:
        """The current client-credentials token, fetched anew when it is close to expiring."""
        with self._lock:
            token = self.api.access_token
            if token and not force and time.monotonic() < self._expires:
                return str(token)
            body = urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "scope": " ".join(SCOPES),
                }
            )
            options = {
                "method": "POST",
                "path": "/oauth/v1/token",
                "body": body,
                "default_json": False,
                "headers": {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            }
            answer = self._send(options, "the client-credentials token", authorized=False)
            if answer.status_code in (400, 401, 403):
                raise AuthError(
                    f"HubSpot refused the client credentials ({_message(answer)}); "
                    "check HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET"
                )
            _raise_for(answer, "the client-credentials token")
            try:
                data = answer.json()
                value, lifetime = str(data["access_token"]), float(data.get("expires_in", 1800))
            except (ValueError, KeyError, TypeError) as exc:
                raise UnexpectedAnswer("HubSpot's token answer is not its documented JSON") from exc
            self.api.access_token = value
            self._expires = time.monotonic() + lifetime * (1 - REFRESH_BEFORE)
            self.tokens_fetched += 1
            log.info("journal token renewed (valid %.0f s)", lifetime)  # never the token itself
            return value

    # ------------------------------------------------------------------ journal
    def _pointer(self, path: str, what: str) -> Pointer | None:
        """None when there is nothing there (204); OffsetExpired on 404."""
        answer = self._call(
            {"method": "GET", "path": path, "qs": {"installPortalId": self.portal_id}, "body": None}, what
        )
        if answer.status_code == 404:
            raise OffsetExpired(f"HubSpot journal: {what}: {_message(answer)}")
        if answer.status_code == 204 or not answer.content:
            return None
        try:
            data = answer.json()
            return Pointer(str(data["currentOffset"]), str(data["url"]), _iso(data.get("expiresAt")))
        except (ValueError, KeyError, TypeError) as exc:
            raise UnexpectedAnswer(f"HubSpot journal {what}: not the documented {{currentOffset, url}}") from exc

    def earliest(self) -> Pointer | None:
        try:
            return self._pointer(f"/webhooks-journal/journal-local/{VERSION}/earliest", "earliest")
        except OffsetExpired:
            return None  # an empty journal

    def latest(self) -> Pointer | None:
        try:
            return self._pointer(f"/webhooks-journal/journal-local/{VERSION}/latest", "latest")
        except OffsetExpired:
            return None

    def next(self, offset: str) -> Pointer | None:
        """The entry after `offset`, None when caught up; OffsetExpired when HubSpot no longer has `offset`."""
        return self._pointer(f"/webhooks-journal/journal-local/{VERSION}/offset/{offset}/next", "next")

    def download(self, pointer: Pointer) -> list[dict[str, Any]]:
        """The entry's events: its pre-signed URL, without an Authorization header; retried on 5xx/timeouts."""

        def attempt() -> list[dict[str, Any]]:
            try:
                answer = self.files.get(pointer.url, timeout=self.timeout)
            except requests.RequestException as exc:
                raise RetriableCrmError(f"journal entry {pointer.offset} unreachable ({type(exc).__name__})") from exc
            if answer.status_code == 403:
                raise UrlExpired(f"journal entry {pointer.offset}: its download URL expired")
            if answer.status_code == 429 or answer.status_code >= 500:
                raise RetriableCrmError(f"journal entry {pointer.offset}: HTTP {answer.status_code}")
            if answer.status_code != 200:
                raise PermanentCrmError(f"journal entry {pointer.offset}: HTTP {answer.status_code}")
            try:
                data = answer.json()
            except ValueError as exc:
                raise UnexpectedAnswer(f"journal entry {pointer.offset} is not JSON") from exc
            events = data.get("events", data.get("results")) if isinstance(data, dict) else data
            if not isinstance(events, list):
                raise UnexpectedAnswer(f"journal entry {pointer.offset} holds no list of events")
            return [e for e in events if isinstance(e, dict)]

        return retry_on_rate_limit(sleep=self.sleep)(attempt)

    # ------------------------------------------------------------------ subscriptions
    def subscriptions(self) -> list[dict[str, Any]]:
        answer = self._call(
            {"method": "GET", "path": f"/webhooks-journal/subscriptions/{VERSION}"}, "the subscription list"
        )
        _raise_for(answer, "the subscription list")
        results = answer.json().get("results", [])
        return [s for s in results if isinstance(s, dict)]

    def upsert_subscription(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._call(
            {"method": "POST", "path": f"/webhooks-journal/subscriptions/{VERSION}", "body": body},
            "a subscription upsert",
        )
        _raise_for(answer, "a subscription upsert")
        data = answer.json()
        return data if isinstance(data, dict) else {}
