"""Proof that an outbound message came from the org: the SessionId it carries opens a session there.

Off by default (`SALESFORCE_OUTBOUND_VERIFY_SESSION=true` turns it on; the outbound message
must have "Send Session ID" ticked). The session is checked with `GET /services/oauth2/userinfo`
on the instance leadtherm itself is configured for, never on a URL the message names
(`EnterpriseUrl`/`PartnerUrl` are the sender's word, and following them would let anyone
make leadtherm call any host). Sessions are reused across messages, so a verified one is
remembered, by digest, for a while.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.salesforce.inbound import SessionCheckUnavailable, same_org
from integration.errors import LeadthermError, VerificationError
from integration.ports.inbound import WebhookSettingError

if TYPE_CHECKING:  # requests is imported by a check that asks: the route is built without it (Lambda cold start)
    import requests

VERIFY_SESSION_SETTING = "SALESFORCE_OUTBOUND_VERIFY_SESSION"
REMEMBER_SECONDS = 900.0
MAX_REMEMBERED = 10_000
TIMEOUT_SECONDS = 5.0


class UserinfoSessionCheck:
    """A SessionCheck that asks the org's userinfo endpoint whose session it is."""

    def __init__(
        self,
        instance_url: Callable[[], str],
        org_id: str,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._instance_url = instance_url  # lazily: connecting costs a login, only when a message comes
        self.org_id = org_id
        if http is None:
            import requests

            http = requests.Session()
        self.http = http
        self.clock = clock
        self._verified: dict[bytes, float] = {}  # digest of a session id -> when it stops being trusted
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, session_id: str) -> None:
        key = hashlib.sha256(session_id.encode("utf-8", "replace")).digest()
        now = self.clock()
        with self._lock:
            if self._verified.get(key, 0.0) > now:
                return
        self._ask(session_id)
        with self._lock:
            if len(self._verified) >= MAX_REMEMBERED:
                self._verified = {k: t for k, t in self._verified.items() if t > now}
            if len(self._verified) < MAX_REMEMBERED:
                self._verified[key] = now + REMEMBER_SECONDS

    def _ask(self, session_id: str) -> None:
        import requests

        try:
            base = self._instance_url().rstrip("/")
        except LeadthermError as exc:  # the login to find the instance failed: a CRM-side problem
            raise SessionCheckUnavailable(f"no Salesforce session to find the instance ({type(exc).__name__})") from exc
        try:
            self.calls += 1
            answer = self.http.get(
                f"{base}/services/oauth2/userinfo",
                headers={"Authorization": f"Bearer {session_id}"},
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise SessionCheckUnavailable(f"userinfo could not be reached ({type(exc).__name__})") from exc
        if answer.status_code in (400, 401, 403):
            raise VerificationError("the message's SessionId is not a live session")
        if answer.status_code != 200:
            raise SessionCheckUnavailable(f"userinfo answered HTTP {answer.status_code}")
        try:
            info = answer.json()
        except ValueError as exc:
            raise SessionCheckUnavailable("userinfo answered something that is not JSON") from exc
        org = info.get("organization_id") if isinstance(info, dict) else None
        if not isinstance(org, str) or not same_org(org, self.org_id):
            raise VerificationError("the message's SessionId belongs to another org")


def enabled(setting: str | None) -> bool:
    """SALESFORCE_OUTBOUND_VERIFY_SESSION: true/1/yes/on turns the check on; unset or false/0/no/off not."""
    value = (setting or "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise WebhookSettingError(VERIFY_SESSION_SETTING, "must be true or false")
