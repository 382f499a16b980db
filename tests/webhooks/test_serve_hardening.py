"""`leadtherm serve` with the console mounted: one hardened server for webhooks and /admin (the real process).

Webhooks keep their 1 MiB; a logged-in console upload may carry 32 MiB; a refusal says why;
nothing is served from the working directory; every /admin answer carries the security headers;
logins are limited per client behind the trusted proxy.
"""

from __future__ import annotations

from pathlib import Path

import requests

from harness.packaged_copy import copy_packaged
from harness.servers import Serve, export_of_size
from tests.webhooks.console.conftest import SECRET, csrf_of, log_in_at
from tests.webhooks.test_serve_command import env, portal

__all__ = ["env", "portal"]  # the serve tests' HubSpot sandbox and environment, used here as they are
MIB = 1024 * 1024
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


def _with_console(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    folder = copy_packaged(tmp_path / "my-mappings")
    return {**env, "LEADTHERM_ADMIN_SECRET": SECRET, "LEADTHERM_MAPPINGS": str(folder)}


def _url(serve: Serve) -> str:
    assert serve.url is not None
    return serve.url


def test_a_console_upload_may_carry_32_mib_while_a_webhook_over_1_mib_is_refused_with_the_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    serve = Serve(_with_console(env, tmp_path))
    try:
        url = _url(serve)
        http, page = log_in_at(url)
        token = csrf_of(page.text)

        def upload(size: int) -> requests.Response:
            export = ("contacts.csv", export_of_size(size), "text/csv")
            data = {"crm": "hubspot", "csrf_token": token}
            return http.post(f"{url}/admin/records", data=data, files={"export": export}, allow_redirects=False)

        assert upload(20 * MIB).status_code == 302  # read, not refused
        too_big = upload(33 * MIB)
        assert too_big.status_code == 413 and "at most 32 MiB" in too_big.text

        webhook = requests.post(f"{url}/webhooks/hubspot", data=b"[" + b" " * (2 * MIB) + b"]", timeout=10)
        assert webhook.status_code == 413
        assert "at most 1 MiB" in webhook.text
        # The console's cookie does not widen what a webhook route reads.
        forged = http.post(f"{url}/webhooks/hubspot", data=b"[" + b" " * (2 * MIB) + b"]", timeout=10)
        assert forged.status_code == 413
    finally:
        serve.stop()


def test_serve_serves_nothing_from_the_working_directory_and_every_admin_answer_carries_the_headers(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "notes.txt").write_text("private notes", encoding="utf-8")
    serve = Serve(_with_console(env, tmp_path), cwd=tmp_path)
    try:
        url = _url(serve)
        for path in ("/static/notes.txt", "/static/anything"):
            answer = requests.get(f"{url}{path}", timeout=10)
            assert answer.status_code == 404 and "private notes" not in answer.text, path
        http, _ = log_in_at(url)
        for answer in (
            requests.get(f"{url}/admin/nowhere", timeout=10),
            http.get(f"{url}/admin/nowhere", timeout=10),
            requests.get(f"{url}/admin", allow_redirects=False, timeout=10),
            http.get(f"{url}/admin/rules", timeout=10),
        ):
            missing = [name for name in SECURITY_HEADERS if name not in answer.headers]
            assert not missing, f"{answer.request.path_url} {answer.status_code}: {missing}"
    finally:
        serve.stop()


def test_behind_the_trusted_proxy_one_clients_wrong_secrets_do_not_lock_out_another(
    env: dict[str, str], tmp_path: Path
) -> None:
    serve = Serve(_with_console(env, tmp_path), "--trusted-proxy", "127.0.0.1")
    try:
        url = _url(serve)

        def attempt(client: str, secret: str) -> int:
            http = requests.Session()
            http.headers["X-Forwarded-For"] = client
            token = csrf_of(http.get(f"{url}/admin/login", timeout=10).text)
            data = {"secret": secret, "csrf_token": token}
            return http.post(f"{url}/admin/login", data=data, allow_redirects=False, timeout=10).status_code

        assert [attempt("203.0.113.5", "guess") for _ in range(5)] == [401] * 5
        assert attempt("203.0.113.5", SECRET) == 429
        assert attempt("198.51.100.7", SECRET) == 302
    finally:
        serve.stop()
