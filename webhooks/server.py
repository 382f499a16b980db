"""The HTTP server `serve` runs: waitress, bounded for webhook traffic on the open internet.

waitress reads whole requests on its event loop and hands only complete ones to a thread,
so a slow client costs a socket, not a thread. What takes such a server offline is the
defaults: 100 connections in all (a hundred idle sockets and nobody else gets in), 120 s
before an idle one is dropped, bodies up to 1 GiB spooled to disk before anyone looks, and
select(), which fails past 1,024 descriptors. The limits below are sized for webhooks:
small bodies, short requests, senders that retry. The console, on its own or under `serve`,
runs on the same server: its logged-in uploads are the one place a larger body is read.
"""

from __future__ import annotations

import errno
import gc
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask
from waitress.utilities import RequestEntityTooLarge

from integration.errors import LeadthermError
from webhooks.app import MAX_BODY_BYTES
from webhooks.listener_gate import shut_door

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


# An acknowledgement waits on a durable commit, whose thread drops the GIL for the fsync and
# then waits for it again; at CPython's default 5 ms switch interval it can wait that long
# behind a thread parsing the next request. At 1 ms the convoy is shorter: measured with
# bench.hubspot.ack_figures, 6 runs each on the shared 2-core machine: mean acks/s +9 %, mean ratio
# to a bare route 0.45 -> 0.54 (and far less spread).
SWITCH_INTERVAL = 0.001


def tune_for_serving() -> None:
    """Process-wide interpreter settings for a process that serves (`serve`, the benchmarks), once its app is built.

    What was built so far (Flask, pydantic's models, the mappings, the console) lives as long as
    the process: frozen, the cyclic collector no longer walks it. A full collection walked all of
    it, in whichever thread allocated last, acknowledgements included: 45-70 ms, about twice per
    run of bench/jobs.py, each time a webhook's ack of 50 ms (perf and gc.callbacks, 2026-12-08).
    """
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()  # what startup left as garbage is not kept forever
    gc.freeze()


class ListenError(LeadthermError):
    """The server cannot listen where it was asked to (busy port, foreign address, bad port)."""


def mebibytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


@dataclass(frozen=True)
class UploadArea:
    """Where a larger body is read: a POST under `prefix` whose Cookie header `admits` (the console's logins).

    `admits` runs on the server's event loop for each such request, before its body is read: it
    must be quick and do no I/O (the console checks its cookie's signature; the app checks the rest).
    """

    prefix: str
    max_body_bytes: int
    admits: Callable[[str], bool]


@dataclass(frozen=True)
class ServerLimits:
    threads: int = 8
    # Idle keep-alive and trickling sockets cost a descriptor each; 1,000 leaves room for a
    # few hundred slow clients and the real senders (the process may open 20,000 here).
    connection_limit: int = 1000
    # A socket that sends nothing for this long is closed (HubSpot and Salesforce send a
    # whole request at once; a keep-alive connection they reuse is busy within seconds).
    channel_timeout: int = 15
    cleanup_interval: int = 2  # how often idle sockets are looked for
    max_body_bytes: int = MAX_BODY_BYTES
    max_header_bytes: int = 64 * 1024
    backlog: int = 1024
    uploads: UploadArea | None = None

    def largest_body(self) -> int:
        return max(self.max_body_bytes, self.uploads.max_body_bytes if self.uploads else 0)

    def body_limit(self, method: str, path: str, cookies: str) -> tuple[int, str]:
        """The most a request may carry, and the sentence that says so when it carries more."""
        area = self.uploads
        if area and method == "POST" and path.startswith(area.prefix) and cookies and area.admits(cookies):
            return area.max_body_bytes, f"an upload may be at most {mebibytes(area.max_body_bytes)}"
        return self.max_body_bytes, f"a request body here may be at most {mebibytes(self.max_body_bytes)}"


class BodyTooLarge(RequestEntityTooLarge):  # type: ignore[misc]
    """waitress's 413, with the reason in its body and the headers every answer of ours carries."""

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        status, headers, body = super().to_response(ident)
        safe = [
            ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-store"),
        ]
        return status, [*headers, *safe], body


class _BoundedParser(HTTPRequestParser):  # type: ignore[misc]
    """Refuses a body over its request's limit as it is read: after the headers when a length is
    announced (nothing of the body is read, nothing spooled to disk), at the limit when chunked."""

    limits = ServerLimits()
    max_body = MAX_BODY_BYTES
    too_large = ""
    error: Any = None  # waitress's, untyped

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.max_body, self.too_large = self.limits.body_limit(
            self.command, self.path, str(self.headers.get("COOKIE", ""))
        )

    def received(self, data: bytes) -> int:
        consumed: int = super().received(data)
        # waitress's own check (its limit is the largest of all) may have spoken first: ours says why
        undecided = self.error is None or type(self.error) is RequestEntityTooLarge
        if undecided and self.headers_finished and self._body_size() > self.max_body:
            self.error = BodyTooLarge(self.too_large)
            self.completed = True
        return consumed

    def _body_size(self) -> int:
        if self.chunked and self.body_rcv is not None:
            return len(self.body_rcv)  # decoded so far
        return int(self.content_length)


class _KeepAliveTask(WSGITask):  # type: ignore[misc]
    """Keeps an HTTP/1.1 connection open after a 204 or 304.

    Those answers have no body by definition (RFC 9112 section 6.3), so they need no length
    and may carry no Content-Length (RFC 9110 section 8.6); waitress closes the connection
    after them only because it finds none. Closing made every HubSpot delivery open a new
    connection.
    """

    _framing = False

    def build_response_header(self) -> bytes:
        self._framing = True
        try:
            header: bytes = super().build_response_header()
        finally:
            self._framing = False
        return header

    def set_close_on_finish(self) -> None:
        wants_close = self.request.headers.get("CONNECTION", "").lower() == "close"
        if self._framing and not self.has_body and self.version == "1.1" and not wants_close:
            return
        super().set_close_on_finish()


class _Channel(HTTPChannel):  # type: ignore[misc]
    task_class = _KeepAliveTask


class _Server(TcpWSGIServer):  # type: ignore[misc]
    channel_class = _Channel


def _server_class(limits: ServerLimits) -> type[_Server]:
    """A server whose request parser knows these limits (waitress builds a parser from its settings only)."""
    parser = type("BoundedParser", (_BoundedParser,), {"limits": limits})
    channel = type("BoundedChannel", (_Channel,), {"parser_class": parser})
    return type("BoundedServer", (_Server,), {"channel_class": channel})


def adjustments(host: str, port: int, limits: ServerLimits) -> dict[str, Any]:
    """waitress's settings for these limits (also used to run a bare app on the same server)."""
    return {
        "host": host,
        "port": port,
        "threads": limits.threads,
        "connection_limit": limits.connection_limit,
        "channel_timeout": limits.channel_timeout,
        "cleanup_interval": limits.cleanup_interval,
        # The parser refuses a body over its request's own limit first; waitress's check (it refuses
        # a body of exactly this size) is a backstop for the largest
        "max_request_body_size": limits.largest_body() + 1,
        "max_request_header_size": limits.max_header_bytes,
        "backlog": limits.backlog,
        "asyncore_use_poll": True,  # select() cannot watch descriptors past 1,024
        "ident": "leadtherm",
        # webhooks.forwarding decides which forwarded headers count; waitress passes them on untouched
        "clear_untrusted_proxy_headers": False,
    }


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ListenError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")


def create_server(app: WSGIApplication, host: str, port: int, limits: ServerLimits | None = None) -> Any:
    """A bound, listening server (call `.run()`); ListenError with one clear line if it cannot be."""
    check_port(port)
    limits = limits or ServerLimits()
    try:
        adj = Adjustments(**adjustments(host, port, limits))
    except (OSError, ValueError) as exc:  # the host did not resolve
        raise ListenError(f"--host {host}: not an address this machine can listen on ({exc})") from exc
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    try:
        # the first address the host resolves to; 'localhost' would otherwise be two servers
        return _server_class(limits)(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
    except OSError as exc:
        dispatcher.shutdown(cancel_pending=True, timeout=1)
        raise ListenError(_bind_problem(host, port, exc)) from exc


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is already in use (another serve running?); choose another --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host} is not an address of this machine; choose another --host"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: {host} does not resolve"
    return f"cannot listen on {where}: {exc.strerror or exc}"


IDLE_BEFORE_CLOSE = 0.25  # seconds: a connection quiet this long while draining is closed


def stop_on_signals() -> threading.Event:
    """SIGTERM (docker stop, systemd) and Ctrl-C: stop accepting, answer what is in flight, then stop."""
    stopping = threading.Event()

    def drain(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    return stopping


def serve_until(server: Any, stopping: threading.Event, drain_seconds: float = 10.0) -> None:
    """Serve until `stopping` is set; then stop accepting, answer what is in flight, and close.

    waitress's own `run()` ends on KeyboardInterrupt by shutting its threads down with the event
    loop already stopped: answers computed meanwhile are never sent, and a thread finishing one
    pulls the trigger after it was closed (the `Bad file descriptor` tracebacks). Here the loop
    keeps running until every connection has its answer, and the trigger closes after the threads.
    """
    use_poll = server.adj.asyncore_use_poll
    while not stopping.is_set():
        wasyncore.loop(timeout=0.2, map=server._map, use_poll=use_poll, count=1)
    _stop_accepting(server)
    deadline = time.monotonic() + drain_seconds
    while (server.active_channels or server.task_dispatcher.queue) and time.monotonic() < deadline:
        for channel in list(server.active_channels.values()):
            if _idle(channel):
                channel.will_close = True  # a keep-alive with nothing to say: closed before it sends more
        wasyncore.loop(timeout=0.05, map=server._map, use_poll=use_poll, count=1)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=max(0.0, deadline - time.monotonic()) + 1)
    server.trigger.close()
    wasyncore.close_all(server._map)


def _idle(channel: Any) -> bool:
    """No request in it, no answer to send, nothing arrived for a moment, nothing waiting to be read."""
    if channel.requests or channel.request is not None or channel.total_outbufs_len:
        return False
    if time.time() - channel.last_activity < IDLE_BEFORE_CLOSE:
        return False  # just accepted or just answered: its request may be on the way
    return not select.select([channel.socket], [], [], 0)[0]


def _stop_accepting(server: Any) -> None:
    """Refuse new connections, take in those already in the backlog (their clients have sent), then close."""
    shut_door(server.socket)
    while select.select([server.socket], [], [], 0)[0]:
        before = len(server.active_channels)
        server.handle_accept()
        if len(server.active_channels) == before:
            break
    wasyncore.dispatcher.close(server)  # new connections are refused from here on
