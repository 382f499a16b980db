"""Every page behind the admin secret, CSRF on every state change, rate-limited logins, a strict CSP."""

from __future__ import annotations

import requests

from harness.servers import serving
from tests.webhooks.console.conftest import SECRET, LogIn, Served, csrf_of
from webhooks.console import ConsoleConfig, create_console_app
from webhooks.console.security import AttemptLimiter
from webhooks.forwarding import ProxyPolicy
from webhooks.forwarding import parse_trusted_proxies as trusted_proxies


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
    app = create_console_app(
        ConsoleConfig(secret=SECRET, store=served.store), ProxyPolicy(trusted_proxies(["127.0.0.1"]))
    )
    with serving(app) as url:  # the server `leadtherm console` runs on
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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_held_back_may_try_again_once_its_failures_are_older_than_the_window() -> None:
    clock = Clock()
    limiter = AttemptLimiter(attempts=3, window=60, clock=clock)
    for _ in range(3):
        limiter.failed("203.0.113.9")
        clock.now += 10
    assert limiter.retry_after("203.0.113.9") == 30  # failed at 0, 10, 20 s; now 30 s: the first ages out at 60 s
    clock.now += 30
    assert limiter.retry_after("203.0.113.9") is None


def test_the_addresses_of_one_ipv6_64_count_as_one_client() -> None:
    limiter = AttemptLimiter(attempts=2, window=60, clock=Clock())
    limiter.failed("2001:db8:1:2::1")
    limiter.failed("2001:db8:1:2::ffff")
    assert limiter.retry_after("2001:db8:1:2::abcd") is not None
    assert limiter.retry_after("2001:db8:1:3::1") is None


def test_past_the_overall_cap_only_addresses_that_failed_are_held_back() -> None:
    clock = Clock()
    limiter = AttemptLimiter(attempts=5, window=60, clock=clock)
    for n in range(50):
        limiter.failed(f"198.51.100.{n}")  # fifty addresses, one failure each: none over its own limit
    assert limiter.retry_after("198.51.100.7") is not None
    assert limiter.retry_after("192.0.2.1") is None
    clock.now += 60
    assert limiter.retry_after("198.51.100.7") is None
