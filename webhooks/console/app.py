"""The console as a Flask blueprint: `register_console(app, config)` mounts it under /admin.

Every page needs a login with the admin secret; every POST needs the session's CSRF token;
every answer carries a Content-Security-Policy that allows only the app's own assets.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, abort, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from webhooks.console import analysis, jobs, operations, rescore, rules_pages
from webhooks.console.context import Console, ConsoleConfig
from webhooks.console.security import configure_sessions, csrf_ok, csrf_token, harden, secret_matches

log = logging.getLogger("leadtherm.console")
PREFIX = "/admin"
FORM_BYTES = 1024 * 1024
OPEN_ENDPOINTS = frozenset({"console.login", "console.login_post", "console.static"})
UPLOAD_ENDPOINTS = frozenset({"console.upload_records", "console.whatif_upload"})


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if target and target.startswith(PREFIX + "/") and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("console.rules")


def _blueprint(console: Console) -> Blueprint:
    bp = Blueprint("console", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

    @bp.before_request
    def guard() -> Response | None:
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = console.config.max_upload_bytes
        if request.endpoint not in OPEN_ENDPOINTS and session.get("admin") is not True:
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
        client = request.remote_addr or "?"
        wait = console.limiter.retry_after(client)
        if wait is not None:
            log.warning("console: login attempts rate-limited")
            message = f"Too many failed attempts; try again in {int(wait) + 1} s."
            return render_template("login.html", next="", error=message), 429, {"Retry-After": str(int(wait) + 1)}
        if not secret_matches(request.form.get("secret", ""), console.config.secret):
            console.limiter.failed(client)
            log.warning("console: failed login")
            return render_template("login.html", next=request.form.get("next", ""), error="Wrong secret."), 401, {}
        console.limiter.succeeded(client)
        target = _safe_next(request.form.get("next"))
        session.clear()
        session.permanent = True
        session["admin"] = True
        session["author"] = request.form.get("name", "").strip()[:80] or "admin"
        csrf_token()
        log.info("console: login")
        return redirect(target)  # type: ignore[return-value]

    @bp.post("/logout")
    def logout() -> Response:
        console.reset()
        session.clear()
        return redirect(url_for("console.login"))  # type: ignore[return-value]

    @bp.get("/")
    def home() -> Response:
        return redirect(url_for("console.rules"))  # type: ignore[return-value]

    rules_pages.add_routes(bp, console)
    analysis.add_routes(bp, console)
    operations.add_routes(bp, console)
    rescore.add_routes(bp, console)
    jobs.add_routes(bp, console.owner, lambda: console.jobs)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template("error.html", code=exc.code, reason=exc.description or exc.name), exc.code or 500

    return bp


def register_console(app: Flask, config: ConsoleConfig, prefix: str = PREFIX) -> Console:
    """Mount the console on an app (the webhook app in `serve`, or its own in `leadtherm console`)."""
    if prefix != PREFIX:
        raise ValueError(f"the console lives under {PREFIX}")
    console = Console(config)
    configure_sessions(app, config.secret, prefix, config.secure_cookies, config.session_seconds)
    app.register_blueprint(_blueprint(console), url_prefix=prefix)
    return console


def create_console_app(config: ConsoleConfig) -> Flask:
    """The console on its own (`leadtherm console`): / redirects to /admin/.

    Behind a TLS proxy, the WSGI server is told which proxy to trust (waitress `trusted_proxy`), so
    `request.is_secure` holds and the session cookie is Secure; no client can claim TLS by a header.
    """
    app = Flask("leadtherm.console")
    app.config["MAX_CONTENT_LENGTH"] = FORM_BYTES  # uploads raise their own limit per request
    register_console(app, config)

    @app.get("/")
    def root() -> Response:
        return redirect(f"{PREFIX}/")  # type: ignore[return-value]

    return app


__all__ = ["ConsoleConfig", "create_console_app", "register_console"]
