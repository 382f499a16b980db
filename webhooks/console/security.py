"""The console's locks: login with the admin secret, session cookie, CSRF tokens, login rate limit, CSP."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, request, session
from flask.sessions import SecureCookieSessionInterface

from integration.ports import StateStore

log = logging.getLogger("leadtherm.console")
COOKIE_NAME = "leadtherm_admin"
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


def client_key(address: str) -> str:
    """Whom a login limit counts: one IPv4 address, or an IPv6 /64 (what one host can pick from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def network_of(address: str) -> str:
    """What a log line may say of an address: its /24 (IPv4) or /48 (IPv6), enough to block, not to name."""
    try:
        ip = ipaddress.ip_address(address.split("/", 1)[0])
    except ValueError:
        return "?"
    prefix = 24 if isinstance(ip, ipaddress.IPv4Address) else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class AttemptLimiter:
    """At most `attempts` failed logins per `window` seconds per client.

    Overall, past `attempts * 10` failures in the window (many addresses guessing together),
    every client that has failed in the window is held back until its failures age out; a
    client that has not failed is never held back by what others did.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._everyone: deque[float] = deque()
        self._lock = threading.Lock()

    def _recent(self, found: deque[float], now: float) -> deque[float]:
        while found and now - found[0] >= self.window:
            found.popleft()
        return found

    def retry_after(self, client: str) -> float | None:
        """Seconds until this client may try again; None when it may now."""
        now = self.clock()
        with self._lock:
            own = self._recent(self._failures.get(client_key(client), deque()), now)
            if not own:
                return None
            if len(own) >= self.attempts:
                return self.window - (now - own[-self.attempts])
            if len(self._recent(self._everyone, now)) >= self.attempts * 10:
                return self.window - (now - own[-1])
            return None

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures.setdefault(client_key(client), deque()).append(now)
            self._recent(self._everyone, now).append(now)
            if len(self._failures) > 10_000:  # many clients: forget the stale rather than grow without end
                self._failures = {k: v for k, v in self._failures.items() if self._recent(v, now)}
                if len(self._failures) > 5_000:  # still many: keep those that failed last (the overall cap holds)
                    latest = sorted(self._failures.items(), key=lambda item: item[1][-1])[-5_000:]
                    self._failures = dict(latest)
            if len(self._everyone) > self.attempts * 20:  # only the count up to the cap matters
                self._everyone.popleft()

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client_key(client), None)


class RefusedLogins:
    """Refused logins as one log line per `interval` with their count, not one line each."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._reasons: Counter[str] = Counter()
        self._networks: Counter[str] = Counter()
        self._opened = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def refused(self, client: str, reason: str) -> None:
        with self._lock:
            if not self._reasons:
                self._opened = self.clock()
            self._reasons[reason] += 1
            self._networks[network_of(client)] += 1
            if self._timer is None:
                self._timer = threading.Timer(self.interval, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Write the line for what was counted (the timer does, and shutdown)."""
        with self._lock:
            reasons, networks, opened = self._reasons, self._networks, self._opened
            self._reasons, self._networks = Counter(), Counter()
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if not reasons:
            return
        top, top_count = networks.most_common(1)[0]
        log.warning(
            "console: %d login(s) refused in %.0f s (%s) from %d network(s), most from %s (%d)",
            sum(reasons.values()),
            max(self.clock() - opened, 0.0),
            ", ".join(f"{count} {reason}" for reason, count in reasons.most_common()),
            len(networks),
            top,
            top_count,
        )


class Revocations:
    """Logins ended by logging out: their ids, until any cookie carrying one has expired anyway.

    Kept in the state store when there is one (so a restart, or another process on the same
    store, still refuses them), and in memory.
    """

    PREFIX = "console-logout:"

    def __init__(self, state: StateStore | None, lifetime_seconds: float) -> None:
        self.state = state
        self.lifetime = lifetime_seconds
        self._ended: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, login: str) -> None:
        until = time.time() + self.lifetime
        with self._lock:
            now = time.time()
            self._ended = {k: v for k, v in self._ended.items() if v > now}
            self._ended[login] = until
        if self.state is not None:
            self.state.mark_processed([self.PREFIX + login], datetime.now(UTC) + timedelta(seconds=self.lifetime))

    def revoked(self, login: str) -> bool:
        with self._lock:
            if self._ended.get(login, 0.0) > time.time():
                return True
        if self.state is None:
            return False
        key = self.PREFIX + login
        return key not in self.state.unprocessed([key])


def configure_sessions(app: Flask, secret: str, cookie_path: str, secure: bool, lifetime_seconds: int) -> None:
    """Signed session cookie: HttpOnly, SameSite=Strict, Secure behind TLS, scoped to the console's path."""
    settings: dict[str, Any] = {
        "SECRET_KEY": session_key(secret),
        "SESSION_COOKIE_NAME": COOKIE_NAME,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_PATH": cookie_path,
        "PERMANENT_SESSION_LIFETIME": lifetime_seconds,
    }
    app.config.update(settings)
    app.session_interface = TlsAwareSessionInterface()
