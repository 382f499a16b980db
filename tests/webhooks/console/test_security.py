"""Every page behind the admin secret, CSRF on every state change, rate-limited logins, a strict CSP."""

from __future__ import annotations

import requests

from tests.webhooks.console.conftest import SECRET, LogIn, Served, csrf_of, serve_app
from webhooks.console import ConsoleConfig, create_console_app


def test_a_page_fetched_without_logging_in_redirects_to_the_login(served: Served) -> None:
    answer = requests.get(f"{served.url}/admin/rules", allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login?next=/admin/rules")


def test_a_wrong_secret_is_refused(served: Served, log_in: LogIn) -> None:
    http, _ = log_in("guess")
    assert http.get(f"{served.url}/admin/rules", allow_redirects=False, timeout=10).status_code == 302
    page = http.get(f"{served.url}/admin/login", timeout=10)
    answer = http.post(
        f"{served.url}/admin/login", data={"secret": "guess", "csrf_token": csrf_of(page.text)}, timeout=10
    )
    assert answer.status_code == 401
    assert "Wrong secret" in answer.text


def test_login_attempts_are_rate_limited_even_with_the_right_secret(served: Served, log_in: LogIn) -> None:
    for _ in range(3):
        log_in("guess")
    http = requests.Session()
    token = csrf_of(http.get(f"{served.url}/admin/login", timeout=10).text)
    answer = http.post(f"{served.url}/admin/login", data={"secret": SECRET, "csrf_token": token}, timeout=10)
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0


def test_the_session_cookie_is_httponly_and_samesite_strict(served: Served) -> None:
    http = requests.Session()
    answer = http.get(f"{served.url}/admin/login", timeout=10)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain HTTP here; behind TLS it is Secure (see the proxy test)


def test_the_session_cookie_is_secure_behind_the_trusted_tls_proxy_only(served: Served) -> None:
    app = create_console_app(ConsoleConfig(secret=SECRET, store=served.store))
    for url in serve_app(app, trusted_proxy="127.0.0.1", trusted_proxy_headers="x-forwarded-proto"):
        answer = requests.get(f"{url}/admin/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert "Secure" in answer.headers["Set-Cookie"]
    # Without a trusted proxy a client cannot claim TLS with a header (and so cannot drop Secure's meaning).
    claimed = requests.get(f"{served.url}/admin/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert "Secure" not in claimed.headers["Set-Cookie"]


def test_a_request_without_the_csrf_token_is_refused(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    assert token
    refused = http.post(
        f"{served.url}/admin/rules/points", data={"axis": "fit", "index": "0", "points": "1"}, timeout=10
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    wrong = http.post(
        f"{served.url}/admin/rules/points",
        data={"axis": "fit", "index": "0", "points": "1", "csrf_token": "x" + token},
        timeout=10,
    )
    assert wrong.status_code == 403
    accepted = http.post(
        f"{served.url}/admin/rules/points",
        data={"axis": "fit", "index": "0", "points": "1", "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert accepted.status_code == 302


def test_every_page_carries_a_csp_that_allows_only_the_apps_own_assets(served: Served, log_in: LogIn) -> None:
    http, _ = log_in()
    for path in ("/admin/login", "/admin/rules", "/admin/yaml/scoring.yaml", "/admin/mappings", "/admin/whatif",
                 "/admin/history", "/admin/operations", "/admin/static/console.js"):  # fmt: skip
        answer = http.get(f"{served.url}{path}", timeout=10)
        assert answer.status_code == 200, path
        csp = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["X-Frame-Options"] == "DENY"


def test_no_page_shows_the_secret(served: Served, log_in: LogIn) -> None:
    http, _ = log_in()
    for path in ("/admin/login", "/admin/rules", "/admin/operations", "/admin/history"):
        assert SECRET not in http.get(f"{served.url}{path}", timeout=10).text


def test_logging_out_ends_the_session(served: Served, log_in: LogIn) -> None:
    http, token = log_in()
    http.post(f"{served.url}/admin/logout", data={"csrf_token": token}, timeout=10)
    assert http.get(f"{served.url}/admin/rules", allow_redirects=False, timeout=10).status_code == 302
