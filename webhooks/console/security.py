"""The console's locks: login with the admin secret, session cookie, CSRF tokens, login rate limit, CSP."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request, session
from flask.sessions import SecureCookieSessionInterface

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Everything from the app itself; no inline script or style, nothing framed, forms post only here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def session_key(secret: str) -> bytes:
    """The cookie-signing key, derived from the admin secret: a new secret logs everyone out."""
    return hmac.new(secret.encode(), b"leadtherm console session v1", hashlib.sha256).digest()


def secret_matches(given: str, secret: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(secret.encode()).digest())


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is `Secure` whenever the request came over TLS (directly or via a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure or app.config["SESSION_COOKIE_SECURE"])


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    """Whether a state-changing request carries this session's token (form field or header)."""
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    return isinstance(expected, str) and hmac.compare_digest(given.encode(), expected.encode())


def harden(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class AttemptLimiter:
    """At most `attempts` failed logins per `window` seconds per client, and ten times that overall."""

    def __init__(self, attempts: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and now - found[0] >= self.window:
            found.popleft()
        return found

    def retry_after(self, client: str) -> float | None:
        """Seconds until this client may try again; None when it may now."""
        now = self.clock()
        with self._lock:
            waits = []
            for key, limit in ((client, self.attempts), ("*", self.attempts * 10)):
                recent = self._recent(key, now)
                if len(recent) >= limit:
                    waits.append(self.window - (now - recent[0]))
            return max(waits) if waits else None

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (client, "*"):
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # many clients: forget the oldest rather than grow without end
                self._failures = {k: v for k, v in self._failures.items() if v and now - v[-1] < self.window}

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


def configure_sessions(app: Flask, secret: str, cookie_path: str, secure: bool, lifetime_seconds: int) -> None:
    """Signed session cookie: HttpOnly, SameSite=Strict, Secure behind TLS, scoped to the console's path."""
    settings: dict[str, Any] = {
        "SECRET_KEY": session_key(secret),
        "SESSION_COOKIE_NAME": "leadtherm_admin",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_PATH": cookie_path,
        "PERMANENT_SESSION_LIFETIME": lifetime_seconds,
    }
    app.config.update(settings)
    app.session_interface = TlsAwareSessionInterface()
