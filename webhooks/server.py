"""The HTTP server `serve` runs: waitress, bounded for webhook traffic on the open internet.

waitress reads whole requests on its event loop and hands only complete ones to a thread,
so a slow client costs a socket, not a thread. What takes such a server offline is the
defaults: 100 connections in all (a hundred idle sockets and nobody else gets in), 120 s
before an idle one is dropped, bodies up to 1 GiB spooled to disk before anyone looks, and
select(), which fails past 1,024 descriptors. The limits below are sized for webhooks:
small bodies, short requests, senders that retry.
"""

from __future__ import annotations

import errno
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from integration.errors import LeadthermError
from webhooks.app import MAX_BODY_BYTES

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


# An acknowledgement waits on a durable commit, whose thread drops the GIL for the fsync and
# then waits for it again; at CPython's default 5 ms switch interval it can wait that long
# behind a thread parsing the next request. At 1 ms the convoy is shorter: measured with
# bench.hubspot.ack_figures, 6 runs each on the shared 2-core machine: mean acks/s +9 %, mean ratio
# to a bare route 0.45 -> 0.54 (and far less spread).
SWITCH_INTERVAL = 0.001


def tune_for_serving() -> None:
    """Process-wide interpreter setting for a process that serves (`serve`, the benchmarks)."""
    sys.setswitchinterval(SWITCH_INTERVAL)


class ListenError(LeadthermError):
    """The server cannot listen where it was asked to (busy port, foreign address, bad port)."""


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


def adjustments(host: str, port: int, limits: ServerLimits) -> dict[str, Any]:
    """waitress's settings for these limits (also used to run a bare app on the same server)."""
    return {
        "host": host,
        "port": port,
        "threads": limits.threads,
        "connection_limit": limits.connection_limit,
        "channel_timeout": limits.channel_timeout,
        "cleanup_interval": limits.cleanup_interval,
        # waitress refuses a body of exactly this size; the app's limit (413 with a reason) is inclusive
        "max_request_body_size": limits.max_body_bytes + 1,
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
    try:
        adj = Adjustments(**adjustments(host, port, limits or ServerLimits()))
    except (OSError, ValueError) as exc:  # the host did not resolve
        raise ListenError(f"--host {host}: not an address this machine can listen on ({exc})") from exc
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    try:
        # the first address the host resolves to; 'localhost' would otherwise be two servers
        return _Server(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
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
