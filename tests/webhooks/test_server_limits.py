"""The server `serve` runs stays reachable and bounded: raw sockets against the real waitress server."""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from adapters.sqlite import SqliteWorkQueue
from harness.servers import serving
from tests.webhooks.routes import EchoRoute
from webhooks.app import AppConfig, create_app
from webhooks.server import ServerLimits


@pytest.fixture
def app(tmp_path: Path) -> object:
    return create_app(AppConfig(SqliteWorkQueue(tmp_path / "q.db"), [EchoRoute()]))


class SlowClients:
    """`count` sockets: half connect and say nothing, half trickle a request header a byte at a time."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(count)]
        self.stop = threading.Event()
        self.trickler = threading.Thread(target=self._trickle, daemon=True)

    def _trickle(self) -> None:
        header = b"POST /webhooks/test HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 10_000
        sent = 0
        while not self.stop.wait(0.3):
            for sock in self.sockets[::2]:
                try:
                    sock.send(header[sent % len(header) : sent % len(header) + 1])
                except OSError:
                    continue
            sent += 1

    def __enter__(self) -> SlowClients:
        self.trickler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.trickler.join(5)
        for sock in self.sockets:
            sock.close()


def _healthz_answers(url: str, tries: int, timeout: float) -> list[int | str]:
    codes: list[int | str] = []
    for _ in range(tries):
        try:
            codes.append(requests.get(f"{url}/healthz", timeout=timeout).status_code)
        except requests.RequestException as exc:
            codes.append(type(exc).__name__)
        time.sleep(0.1)
    return codes


def test_healthz_answers_while_120_slow_clients_hold_their_sockets(app: object) -> None:
    with serving(app) as url, SlowClients(url, 120):
        time.sleep(0.5)  # every slow socket is accepted and trickling
        assert _healthz_answers(url, tries=10, timeout=2) == [200] * 10


def test_with_waitress_default_of_100_connections_the_same_clients_starve_healthz(app: object) -> None:
    # The control: what the limits above fix (this is what `serve` did before).
    with serving(app, ServerLimits(connection_limit=100)) as url, SlowClients(url, 120):
        time.sleep(0.5)
        assert _healthz_answers(url, tries=1, timeout=1.5) == ["ReadTimeout"]


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _answer(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""


def test_a_256_mib_claimed_body_is_refused_right_after_the_headers(app: object) -> None:
    with serving(app) as url, _raw(url) as sock:
        sock.sendall(
            b"POST /webhooks/test HTTP/1.1\r\nHost: x\r\nX-Test-Secret: s3cret\r\nContent-Length: 268435456\r\n\r\n"
        )
        started = time.monotonic()
        answer = _answer(sock, 2)  # not one byte of the body was sent
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
        assert time.monotonic() - started < 1
        assert b"Content-Length:" in answer


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(app: object) -> None:
    chunk = b"%x\r\n%s\r\n" % (65536, b"1" * 65536)
    sent = 0
    with serving(app) as url, _raw(url) as sock:
        sock.sendall(b"POST /webhooks/test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        answer = b""
        while sent < 256 * 1024 * 1024 and not answer:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # closed on us: refused
            sent += len(chunk)
            if select.select([sock], [], [], 0)[0]:
                answer = _answer(sock, 1)
        answer = answer or _answer(sock, 2)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    # The socket buffers hold a few MiB; far less than the 256 MiB a client may claim.
    assert sent < 16 * 1024 * 1024


def test_requests_share_one_keep_alive_connection_and_every_answer_with_a_body_has_a_length(app: object) -> None:
    with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        answers: list[tuple[int, bool]] = []
        first_socket = None
        for method, path, headers, body in [
            ("POST", "/webhooks/test", {"X-Test-Secret": "s3cret"}, b"[1]"),
            ("POST", "/webhooks/test", {"X-Test-Secret": "s3cret"}, b"[2]"),
            ("POST", "/webhooks/test", {}, b"[3]"),
            ("POST", "/webhooks/test", {"X-Test-Secret": "s3cret"}, b"not json"),
            ("GET", "/webhooks/test", {}, None),
            ("POST", "/nowhere", {}, b""),
            ("GET", "/healthz", {}, None),
        ]:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            first_socket = first_socket or conn.sock
            assert conn.sock is first_socket, f"{method} {path} after {answers} opened a new connection"
            assert not answer.will_close
            answers.append((answer.status, answer.getheader("Content-Length") is not None))
        conn.close()
    # A 204 has no body by definition and may not carry a Content-Length (RFC 9110 section 8.6).
    assert answers == [(204, False), (204, False), (401, True), (400, True), (405, True), (404, True), (200, True)]
