"""The console as a Flask blueprint: `register_console(app, config)` mounts it under /admin.

Every page needs a login with the admin secret; every POST needs the session's CSRF token;
every answer under /admin (404s and error pages included) carries a Content-Security-Policy
that allows only the app's own assets, and the other security headers. Logging out revokes
the login on the server: the cookie taken before no longer opens anything.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie

from webhooks.console import analysis, jobs, operations, overview, records, rescore, rules_pages
from webhooks.console.context import MAX_UPLOAD_BYTES, Console, ConsoleConfig
from webhooks.console.security import (
    COOKIE_NAME,
    AttemptLimiter,
    RefusedLogins,
    Revocations,
    configure_sessions,
    csrf_ok,
    csrf_token,
    harden,
    secret_matches,
)
from webhooks.forwarding import TRUST_NOTHING, ForwardingMiddleware, ProxyPolicy
from webhooks.server import UploadArea, mebibytes

log = logging.getLogger("leadtherm.console")
PREFIX = "/admin"
FORM_BYTES = 1024 * 1024
OPEN_ENDPOINTS = frozenset({"console.login", "console.login_post", "console.static"})
UPLOAD_ENDPOINTS = frozenset({"console.upload_records", "console.whatif_upload"})


def upload_area(app: Flask, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> UploadArea:
    """What the server reads for the console's uploads: a POST under /admin/ with a logged-in session cookie.

    Only the cookie's signature and age are checked here (no I/O: the server asks before it reads
    the body); whether the login was revoked is checked by the app, as for every request.
    """
    interface = app.session_interface
    serializer = interface.get_signing_serializer(app) if isinstance(interface, SecureCookieSessionInterface) else None
    max_age = int(app.permanent_session_lifetime.total_seconds())

    def logged_in(cookies: str) -> bool:
        value = parse_cookie(cookies).get(COOKIE_NAME)
        if not value or serializer is None:
            return False
        try:
            data = serializer.loads(value, max_age=max_age)
        except BadSignature:
            return False
        return isinstance(data, dict) and data.get("admin") is True

    return UploadArea(PREFIX + "/", max_upload_bytes, logged_in)


@dataclass(frozen=True)
class Gate:
    """Who may log in, and which logins have ended."""

    limiter: AttemptLimiter
    refusals: RefusedLogins
    revocations: Revocations

    @classmethod
    def of(cls, config: ConsoleConfig) -> Gate:
        return cls(
            AttemptLimiter(config.login_attempts, config.login_window_seconds),
            RefusedLogins(),
            Revocations(config.state, config.session_seconds),
        )

    def logged_in(self) -> bool:
        """Whether this request's session is a login that has not been revoked (a revoked one is cleared)."""
        if session.get("admin") is not True:
            return False
        login = session.get("login")
        if isinstance(login, str) and not self.revocations.revoked(login):
            return True
        session.clear()
        return False


def _too_large() -> str:
    limit = request.max_content_length
    if request.endpoint in UPLOAD_ENDPOINTS and limit:
        return f"The upload is larger than {mebibytes(limit)}, the most the console reads; upload a smaller export."
    return f"The form is larger than {mebibytes(limit or FORM_BYTES)}, the most the console reads for a form."


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if target and target.startswith(PREFIX + "/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("console.rules")


def _blueprint(console: Console, gate: Gate) -> Blueprint:
    bp = Blueprint("console", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

    @bp.before_request
    def guard() -> Response | None:
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = console.config.max_upload_bytes
        if request.endpoint not in OPEN_ENDPOINTS and not gate.logged_in():
            if request.method != "GET":
                abort(401, "log in first")
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
        if request.method == "POST" and not csrf_ok():
            log.warning("console: refused a %s to %s without a valid CSRF token", request.method, request.path)
            abort(403, "missing or wrong CSRF token; reload the page and try again")
        return None

    @bp.after_request
    def headers(response: Response) -> Response:
        return harden(response)

    @bp.app_template_filter("zip")
    def zip_filter(left: list[object], right: list[object]) -> list[tuple[object, object]]:
        return list(zip(left, right, strict=True))

    @bp.app_context_processor
    def common() -> dict[str, object]:
        return {"csrf_token": csrf_token, "author": session.get("author", "")}

    @bp.get("/login")
    def login() -> str:
        return render_template("login.html", next=request.args.get("next", ""), error=None)

    @bp.post("/login")
    def login_post() -> Response | tuple[str, int, dict[str, str]]:
        # The client's address as the trusted proxy saw it (webhooks.forwarding), else the TCP peer's.
        client = request.remote_addr or "?"
        wait = gate.limiter.retry_after(client)
        if wait is not None:
            gate.refusals.refused(client, "rate-limited")
            message = f"Too many failed attempts; try again in {int(wait) + 1} s."
            return render_template("login.html", next="", error=message), 429, {"Retry-After": str(int(wait) + 1)}
        if not secret_matches(request.form.get("secret", ""), console.config.secret):
            gate.limiter.failed(client)
            gate.refusals.refused(client, "wrong secret")
            return render_template("login.html", next=request.form.get("next", ""), error="Wrong secret."), 401, {}
        gate.limiter.succeeded(client)
        target = _safe_next(request.form.get("next"))
        session.clear()
        session.permanent = True
        session["admin"] = True
        session["login"] = secrets.token_urlsafe(24)  # what logging out revokes
        session["author"] = request.form.get("name", "").strip()[:80] or "admin"
        csrf_token()
        log.info("console: login")
        return redirect(target)  # type: ignore[return-value]

    @bp.post("/logout")
    def logout() -> Response:
        login = session.get("login")
        if isinstance(login, str):
            gate.revocations.revoke(login)
        console.reset()
        session.clear()
        return redirect(url_for("console.login"))  # type: ignore[return-value]

    @bp.get("/")
    def home() -> Response:
        return redirect(url_for("console.rules"))  # type: ignore[return-value]

    rules_pages.add_routes(bp, console)
    analysis.add_routes(bp, console)
    operations.add_routes(bp, console)
    records.add_routes(bp, console)
    overview.add_routes(bp, console)
    rescore.add_routes(bp, console)
    jobs.add_routes(bp, lambda: console.jobs)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        reason = _too_large() if exc.code == 413 else (exc.description or exc.name)
        return render_template("error.html", code=exc.code, reason=reason), exc.code or 500

    return bp


def register_console(app: Flask, config: ConsoleConfig, prefix: str = PREFIX) -> Console:
    """Mount the console on an app (the webhook app in `serve`, or its own in `leadtherm console`)."""
    if prefix != PREFIX:
        raise ValueError(f"the console lives under {PREFIX}")
    console = Console(config)
    gate = Gate.of(config)
    configure_sessions(app, config.secret, prefix, config.secure_cookies, config.session_seconds)
    app.register_blueprint(_blueprint(console, gate), url_prefix=prefix)
    app.extensions["leadtherm.console.gate"] = gate

    @app.after_request
    def console_headers(response: Response) -> Response:
        # Also what the blueprint never sees: a 404 under /admin, a 405, the app's own error pages.
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            harden(response)
        return response

    return console


def flush_refused_logins(app: Flask) -> None:
    """Write the count of refused logins not yet logged (at shutdown)."""
    gate = app.extensions.get("leadtherm.console.gate")
    if isinstance(gate, Gate):
        gate.refusals.flush()


def create_console_app(config: ConsoleConfig, proxy: ProxyPolicy = TRUST_NOTHING) -> Flask:
    """The console on its own (`leadtherm console`): / redirects to /admin/; nothing else outside /admin.

    Behind a TLS proxy named in `proxy` (as `serve` trusts one, webhooks.forwarding), its
    X-Forwarded-Proto makes `request.is_secure` hold and the session cookie Secure, and its
    X-Forwarded-For is the client address login limits count; from any other peer those
    headers are dropped, so no client can claim TLS or another address by a header.
    """
    # No static route of Flask's own: it would serve the working directory's static/ folder.
    app = Flask("leadtherm.console", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = FORM_BYTES  # uploads raise their own limit per request
    app.wsgi_app = ForwardingMiddleware(app.wsgi_app, proxy)  # type: ignore[method-assign]
    register_console(app, config)

    @app.get("/")
    def root() -> Response:
        return redirect(f"{PREFIX}/")  # type: ignore[return-value]

    @app.after_request
    def headers(response: Response) -> Response:
        return harden(response)  # every answer of this app, the redirect above and its 404s included

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
        reason = _too_large() if exc.code == 413 else (exc.description or exc.name)
        if not request.path.startswith(PREFIX + "/"):
            # The console's page template makes a CSRF token: answering the browser's own /favicon.ico with it
            # would send a fresh session cookie for /admin and void the token of the page that is open.
            return f"{exc.code} {reason}\n", exc.code or 500, {"Content-Type": "text/plain; charset=utf-8"}
        return render_template("error.html", code=exc.code, reason=reason), exc.code or 500

    return app


__all__ = ["ConsoleConfig", "create_console_app", "flush_refused_logins", "register_console", "upload_area"]
