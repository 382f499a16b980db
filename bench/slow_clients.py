"""200 slow clients against the server `serve` runs: can /healthz still answer, and how fast?

Half the sockets connect and say nothing, half trickle a request header one byte a second
(slowloris). Meanwhile a monitor asks /healthz five times a second on a fresh connection,
and a sender delivers signed HubSpot batches. The same run on waitress's defaults is the
baseline (what `serve` had before).
"""

from __future__ import annotations

import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.inbound import HubSpotWebhookRoute
from adapters.sqlite import SqliteWorkQueue
from bench.hubspot import ack_figures, ack_rounds
from webhooks.app import AppConfig, create_app
from webhooks.server import ServerLimits, create_server

SECRET = "bench-secret"
CLIENTS = 200
SECONDS = 25.0
WAITRESS_DEFAULTS = ServerLimits(
    threads=8, connection_limit=100, channel_timeout=120, cleanup_interval=30, max_body_bytes=1024**3
)


def _batch(n: int) -> bytes:
    return json.dumps([
        {"eventId": n, "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": int(time.time() * 1000),
         "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 1001 + n % 500,
         "propertyName": "hs_analytics_num_page_views", "propertyValue": "7", "changeSource": "CRM_UI"}
    ]).encode()  # fmt: skip


class _Slow:
    def __init__(self, port: int, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            try:
                self.sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        header = b"POST /webhooks/hubspot HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 50_000
        n = 0
        while not self.stop.wait(1.0):
            for sock in self.sockets[1::2]:
                try:
                    sock.send(header[n : n + 1])
                except OSError:
                    continue
            n += 1

    def closed_by_server(self) -> int:
        """Idle sockets the server has closed (a read returns end-of-file at once)."""
        closed = 0
        for sock in self.sockets[::2]:
            sock.setblocking(False)
            try:
                closed += sock.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        return closed

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


def _monitor(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    while not stop.wait(0.2):
        started = time.perf_counter()
        try:
            answer = requests.get(f"{url}/healthz", timeout=2)
            if answer.status_code != 200:
                failures.append(str(answer.status_code))
            else:
                latencies.append(time.perf_counter() - started)
        except requests.RequestException as exc:
            failures.append(type(exc).__name__)


def _sender(url: str, stop: threading.Event, acks: list[int]) -> None:
    signer = HubSpotSandbox()
    signer.client_secret = SECRET
    target = f"{url}/webhooks/hubspot"
    n = 0
    with requests.Session() as session:
        while not stop.wait(0.05):
            n += 1
            body = _batch(n)
            try:
                acks.append(
                    session.post(target, data=body, headers=signer.signed_request(target, body), timeout=2).status_code
                )
            except requests.RequestException:
                acks.append(0)


def scenario(limits: ServerLimits, folder: Path, clients: int = CLIENTS, seconds: float = SECONDS) -> dict[str, Any]:
    queue = SqliteWorkQueue(folder / "q.db")
    app = create_app(AppConfig(queue, [HubSpotWebhookRoute([SECRET])]))
    server: Any = create_server(app, "127.0.0.1", 0, limits)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    slow = _Slow(int(server.effective_port), clients)
    time.sleep(1.0)
    stop = threading.Event()
    latencies: list[float] = []
    failures: list[str] = []
    acks: list[int] = []
    threads = [
        threading.Thread(target=_monitor, args=(url, stop, latencies, failures), daemon=True),
        threading.Thread(target=_sender, args=(url, stop, acks), daemon=True),
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(5)
    idle_closed = slow.closed_by_server()
    slow.close()
    server.close()
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
    asked = len(latencies) + len(failures)
    ordered = sorted(latencies)
    return {
        "connected": len(slow.sockets), "asked": asked, "answered": len(latencies),
        "p50": statistics.median(ordered) * 1000 if ordered else None,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else None,
        "max": ordered[-1] * 1000 if ordered else None,
        "acks": sum(1 for code in acks if code == 204), "sent": len(acks), "idle_closed": idle_closed,
    }  # fmt: skip


def _ms(value: float | None) -> str:
    return f"{value:.1f} ms" if value is not None else "none answered"


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        ours_dir, base_dir, ack_dir = Path(tmp) / "ours", Path(tmp) / "defaults", Path(tmp) / "ack"
        for folder in (ours_dir, base_dir, ack_dir):
            folder.mkdir()
        ours = scenario(ServerLimits(), ours_dir)
        base = scenario(WAITRESS_DEFAULTS, base_dir)
        ack = ack_figures(ack_dir)  # the acknowledgement against a bare 204 route, both on this server
    limits = ServerLimits()
    return f"""## 200 slow clients ({CLIENTS // 2} idle, {CLIENTS // 2} trickling a header at 1 byte/s) for {SECONDS:.0f} s

| measure | `serve` (webhooks/server.py) | waitress defaults (before) |
|---|---|---|
| slow sockets connected | {ours["connected"]} | {base["connected"]} |
| `/healthz` answered (5/s, fresh connection, 2 s timeout) | **{ours["answered"]} of {ours["asked"]}** | {base["answered"]} of {base["asked"]} |
| `/healthz` latency p50 / p99 / max | {_ms(ours["p50"])} / **{_ms(ours["p99"])}** / {_ms(ours["max"])} | {_ms(base["p50"])} / {_ms(base["p99"])} / {_ms(base["max"])} |
| signed HubSpot batches acknowledged (204) meanwhile | {ours["acks"]} of {ours["sent"]} | {base["acks"]} of {base["sent"]} |
| idle sockets closed by the server by the end | {ours["idle_closed"]} of {CLIENTS // 2} | {base["idle_closed"]} of {CLIENTS // 2} |

On the same server, no slow clients (`bench.hubspot.ack_figures`, 8 concurrent senders reusing
their connections): {ack["rps"]:.0f} acks/s of a signed 100-event batch against {ack["bare_rps"]:.0f}/s for a
bare 204 route, a ratio of **{ack["ratio"]:.2f}** (target at least 0.5; the median of rounds {ack_rounds(ack)}).

`serve`'s limits: {limits.connection_limit} connections (poll(), not select()), a socket silent for
{limits.channel_timeout} s is closed, bodies over {limits.max_body_bytes // 1024 // 1024} MiB refused as soon as the
headers (or the chunks read so far) say so. waitress's defaults: 100 connections, 120 s, 1 GiB. A
trickling client keeps its socket (each byte resets the timeout); it costs a descriptor, not a
thread, and the connection limit bounds how many there can be.
"""
