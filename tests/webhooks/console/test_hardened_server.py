"""`leadtherm console` as an attacker meets it: the real process on 127.0.0.1, raw sockets and requests.

It runs on the server `serve` runs (bounded connections, idle sockets dropped, bodies refused as
they are read), counts login failures per client, revokes a login at logout, serves nothing
outside /admin but the redirect to it, and writes refused logins as one counted line.
"""

from __future__ import annotations

import os
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from harness.servers import ConsoleProcess, export_of_size
from tests.webhooks.console.conftest import SECRET, csrf_of, log_in_at
from tests.webhooks.test_server_limits import SlowClients

MIB = 1024 * 1024
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTHERM_", "HUBSPOT_", "SALESFORCE_"))}
    return {**clean, "LEADTHERM_ADMIN_SECRET": SECRET, "LEADTHERM_DB": str(tmp_path / "db.sqlite"), **extra}


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    """The console's temporary folder (TMPDIR), where waitress would spool a body it reads."""
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


@pytest.fixture
def console(tmp_path: Path, spool: Path) -> Iterator[ConsoleProcess]:
    process = ConsoleProcess(_env(tmp_path, TMPDIR=str(spool)), tmp_path / "my-mappings", cwd=tmp_path)
    yield process
    process.stop()


def _url(console: ConsoleProcess) -> str:
    assert console.url is not None
    return console.url


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _answer(sock: socket.socket, timeout: float) -> bytes:
    """The whole answer: its headers and the Content-Length bytes after them, which may come in separate segments."""
    sock.settimeout(timeout)
    answer = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return answer
            answer += chunk
            head, separator, body = answer.partition(b"\r\n\r\n")
            if separator:
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if length is None or len(body) >= int(length.group(1)):
                    return answer
    except (TimeoutError, ConnectionResetError):
        return answer


def _spooled(pid: int, spool: Path) -> list[str]:
    """Files the process holds open in its temporary folder (a spooled body; unlinked ones too)."""
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(spool)):
            held.append(target)
    return held


def _send_claimed_body(url: str, headers: bytes, pid: int, spool: Path) -> tuple[bytes, int]:
    """Headers claiming a 300 MiB body, then body bytes until the server answers; (answer, body bytes sent)."""
    sent = 0
    answer = b""
    with _raw(url) as sock:
        sock.sendall(b"POST /admin/records HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (300 * MIB, headers))
        while sent < 8 * MIB and not answer:
            assert not _spooled(pid, spool), "the body is being spooled to disk"
            if select.select([sock], [], [], 0.05)[0]:
                answer = _answer(sock, 1)
                break
            try:
                sock.sendall(b"x" * 65536)
            except OSError:
                break  # closed on us: refused
            sent += 65536
        answer = answer or _answer(sock, 2)
    return answer, sent


def test_an_unauthenticated_300_mib_body_is_refused_with_413_before_any_of_it_is_spooled(
    console: ConsoleProcess, spool: Path
) -> None:
    answer, sent = _send_claimed_body(_url(console), b"", console.process.pid, spool)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert b"at most 1 MiB" in answer  # the reason, not a bare "Request Entity Too Large"
    assert b"X-Content-Type-Options: nosniff" in answer
    assert sent < 4 * MIB  # answered after the headers, not after reading what was claimed
    assert list(spool.iterdir()) == []


def test_a_forged_console_cookie_is_held_to_the_same_1_mib(console: ConsoleProcess, spool: Path) -> None:
    answer, sent = _send_claimed_body(_url(console), b"Cookie: leadtherm_admin=forged\r\n", console.process.pid, spool)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert b"at most 1 MiB" in answer
    assert sent < 4 * MIB
    assert list(spool.iterdir()) == []


def test_the_console_answers_while_120_idle_and_trickling_sockets_are_held_open(console: ConsoleProcess) -> None:
    url = _url(console)
    with SlowClients(url, 120):
        time.sleep(0.5)  # every slow socket is accepted
        answers = [requests.get(f"{url}/admin/login", timeout=2).status_code for _ in range(5)]
    assert answers == [200] * 5


def _upload(http: requests.Session, url: str, token: str, size: int) -> requests.Response:
    rows = export_of_size(size)
    return http.post(
        f"{url}/admin/records",
        data={"crm": "hubspot", "csrf_token": token},
        files={"export": ("contacts.csv", rows, "text/csv")},
        allow_redirects=False,
        timeout=60,
    )


def test_a_logged_in_admin_uploads_up_to_32_mib_and_past_it_gets_a_413_that_says_why(
    console: ConsoleProcess,
) -> None:
    url = _url(console)
    http, page = log_in_at(url)
    token = csrf_of(page.text)
    accepted = _upload(http, url, token, 30 * MIB)
    assert accepted.status_code == 302, accepted.text[-500:]  # read (the preview then says what it made of it)
    refused = _upload(http, url, token, 33 * MIB)
    assert refused.status_code == 413
    assert "at most 32 MiB" in refused.text
    # A form is not an upload: over 1 MiB it is refused by the console itself, on its error page.
    form = http.post(
        f"{url}/admin/rules/points", data={"csrf_token": token, "points": "1" * (2 * MIB)}, allow_redirects=False
    )
    assert form.status_code == 413
    assert "larger than 1 MiB" in form.text
    assert all(name in form.headers for name in SECURITY_HEADERS)


def test_without_a_login_even_a_2_mib_upload_is_refused_as_it_arrives(console: ConsoleProcess) -> None:
    url = _url(console)
    visitor = requests.Session()
    token = csrf_of(visitor.get(f"{url}/admin/login", timeout=10).text)  # holds the console's cookie, not a login
    assert "leadtherm_admin" in visitor.cookies
    for http in (requests.Session(), visitor):
        answer = _upload(http, url, token, 2 * MIB)
        assert answer.status_code == 413
        assert "at most 1 MiB" in answer.text


class _From(HTTPAdapter):
    """Connects from a given local address (anything in 127.0.0.0/8 reaches a server on 127.0.0.1)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def _client(url: str, source: str | None = None, forwarded_for: str | None = None) -> tuple[requests.Session, str]:
    http = requests.Session()
    if source:
        http.mount("http://", _From(source))
    if forwarded_for:
        http.headers["X-Forwarded-For"] = forwarded_for
    return http, csrf_of(http.get(f"{url}/admin/login", timeout=10).text)


def _try(url: str, client: tuple[requests.Session, str], secret: str) -> int:
    http, token = client
    data = {"secret": secret, "csrf_token": token}
    return http.post(f"{url}/admin/login", data=data, allow_redirects=False, timeout=10).status_code


def test_behind_the_trusted_proxy_five_wrong_secrets_from_one_client_do_not_lock_out_another(tmp_path: Path) -> None:
    console = ConsoleProcess(_env(tmp_path), tmp_path / "my-mappings", "--trusted-proxy", "127.0.0.1", cwd=tmp_path)
    try:
        url = _url(console)
        a = _client(url, forwarded_for="203.0.113.5")
        assert [_try(url, a, "guess") for _ in range(5)] == [401] * 5
        assert _try(url, a, SECRET) == 429  # client A is held back, even with the right secret
        assert _try(url, _client(url, forwarded_for="198.51.100.7"), SECRET) == 302  # client B is not
    finally:
        console.stop()


def test_without_a_trusted_proxy_a_forwarded_header_does_not_make_a_new_client(console: ConsoleProcess) -> None:
    url = _url(console)
    for n in range(5):
        assert _try(url, _client(url, forwarded_for=f"203.0.113.{n}"), "guess") == 401
    assert _try(url, _client(url, forwarded_for="198.51.100.7"), SECRET) == 429


def test_fifty_failures_from_ten_addresses_do_not_lock_out_an_eleventh_that_never_failed(
    console: ConsoleProcess,
) -> None:
    url = _url(console)
    for n in range(2, 12):
        attacker = _client(url, source=f"127.0.0.{n}")
        assert [_try(url, attacker, "guess") for _ in range(5)] == [401] * 5
    assert _try(url, _client(url, source="127.0.0.12"), SECRET) == 302
    # The overall cap still holds: past it, one failure is enough to hold a new address back.
    newcomer = _client(url, source="127.0.0.13")
    assert _try(url, newcomer, "guess") == 401
    assert _try(url, newcomer, SECRET) == 429


def test_a_cookie_taken_before_logout_opens_nothing_after_it_even_after_a_restart(
    tmp_path: Path, console: ConsoleProcess
) -> None:
    url = _url(console)
    http, page = log_in_at(url)
    token = csrf_of(page.text)
    taken = dict(http.cookies)
    assert http.get(f"{url}/admin/rules", allow_redirects=False, timeout=10).status_code == 200
    http.post(f"{url}/admin/logout", data={"csrf_token": token}, timeout=10)

    def replayed(base: str) -> tuple[int, int]:
        thief = requests.Session()
        thief.cookies.update(taken)
        got = thief.get(f"{base}/admin/rules", allow_redirects=False, timeout=10).status_code
        edit = {"axis": "fit", "index": "0", "points": "1", "csrf_token": token}
        posted = thief.post(f"{base}/admin/rules/points", data=edit, allow_redirects=False, timeout=10).status_code
        return got, posted

    assert replayed(url) == (302, 401)  # GET goes to the login, POST is refused
    console.stop()
    again = ConsoleProcess(_env(tmp_path), tmp_path / "my-mappings", cwd=tmp_path)  # same secret, same store
    try:
        assert replayed(_url(again)) == (302, 401)
    finally:
        again.stop()


def test_nothing_is_served_from_the_working_directory(tmp_path: Path, console: ConsoleProcess) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "notes.txt").write_text("private notes", encoding="utf-8")
    url = _url(console)
    for path in ("/static/notes.txt", "/static/anything", "/admin/static/../../static/notes.txt"):
        answer = requests.get(f"{url}{path}", timeout=10)
        assert answer.status_code == 404, path
        assert "private notes" not in answer.text
    assert requests.get(f"{url}/admin/static/console.js", timeout=10).status_code == 200  # the console's own


def test_every_answer_carries_the_security_headers_404s_redirects_and_errors_included(
    console: ConsoleProcess,
) -> None:
    url = _url(console)
    http, _ = log_in_at(url)
    answers = {
        "/": requests.get(f"{url}/", allow_redirects=False, timeout=10),
        "/nowhere": requests.get(f"{url}/nowhere", timeout=10),
        "/admin/nowhere": http.get(f"{url}/admin/nowhere", timeout=10),
        "/admin/ (redirect)": http.get(f"{url}/admin/", allow_redirects=False, timeout=10),
        "POST / (405)": requests.post(f"{url}/", timeout=10),
        "/admin/rules (logged in)": http.get(f"{url}/admin/rules", timeout=10),
    }
    assert answers["/"].status_code == 302 and answers["/nowhere"].status_code == 404
    assert answers["/admin/nowhere"].status_code == 404 and answers["POST / (405)"].status_code == 405
    for what, answer in answers.items():
        missing = [name for name in SECURITY_HEADERS if name not in answer.headers]
        assert not missing, f"{what}: {missing}"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"], what
    assert answers["/admin/rules (logged in)"].headers["Cache-Control"] == "no-store"


def test_two_hundred_refused_logins_are_one_counted_log_line_without_the_secret_or_the_address(
    console: ConsoleProcess,
) -> None:
    url = _url(console)
    guesser = _client(url, source="127.0.0.77")
    codes = [_try(url, guesser, f"guess-{n}") for n in range(200)]
    assert codes.count(401) == 5 and codes.count(429) == 195
    lines = console.stop()
    refused = [line for line in lines if "login" in line and "console on http" not in line]
    assert len(refused) == 1, refused
    assert "200 login(s) refused" in refused[0]
    assert "5 wrong secret" in refused[0] and "195 rate-limited" in refused[0]
    assert "127.0.0.0/24" in refused[0]
    log = "\n".join(lines)
    assert "127.0.0.77" not in log and "guess-" not in log and SECRET not in log
