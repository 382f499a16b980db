"""One `serve` process or two on the same port (SO_REUSEPORT): does a multi-process server ack faster?

Each process runs the production server (webhooks/server.py) with the HubSpot route on one
shared SQLite file, as two `serve` processes on one machine would. The load is the one of
`bench.hubspot.ack_figures`: signed 100-event batches from 8 concurrent senders reusing
their connections, from a process of its own. Rounds alternate the two set-ups.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import statistics
import tempfile
from pathlib import Path

import requests
from leadtherm_sandboxes.waiting import wait_until
from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

from adapters.hubspot.inbound import HubSpotWebhookRoute
from adapters.sqlite import SqliteWorkQueue
from bench.hubspot import ACK_REQUESTS, SECRET, WARM_UP, _batch, _load
from harness.servers import free_port
from webhooks.app import AppConfig, create_app
from webhooks.server import ServerLimits, _Server, adjustments, tune_for_serving

ROUNDS = 3
PROCESSES = (1, 2)


def _serve_in_child(db: str, port: int) -> None:
    """The HubSpot route on the production server, on a port other processes may bind too."""
    tune_for_serving()
    app = create_app(AppConfig(SqliteWorkQueue(db), [HubSpotWebhookRoute([SECRET])]))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # the kernel spreads connections
    listener.bind(("127.0.0.1", port))
    adj = Adjustments(**adjustments("127.0.0.1", port, ServerLimits()))
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    _Server(app, map={}, dispatcher=dispatcher, adj=adj, _sock=listener, bind_socket=False).run()


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _acks_per_second(processes: int, folder: Path, bodies: list[bytes]) -> float:
    port = free_port()
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_serve_in_child, args=(str(folder / "leadtherm.db"), port), daemon=True)
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/webhooks/hubspot"
    try:
        if not wait_until(lambda: _up(base), 30, step=0.1):
            raise RuntimeError("the servers did not come up")
        _load(url, [_batch(20_000_000 + n * 100) for n in range(WARM_UP)], SECRET)
        _, rps = _load(url, bodies, SECRET)
        return rps
    finally:
        for child in children:
            child.terminate()
            child.join(10)


def run() -> str:
    rates: dict[int, list[float]] = {n: [] for n in PROCESSES}
    with tempfile.TemporaryDirectory() as tmp:
        for turn in range(ROUNDS):
            bodies = [_batch((turn * ACK_REQUESTS + n) * 100) for n in range(ACK_REQUESTS)]
            for processes in PROCESSES if turn % 2 == 0 else tuple(reversed(PROCESSES)):
                folder = Path(tmp) / f"{turn}-{processes}"
                folder.mkdir()
                rates[processes].append(_acks_per_second(processes, folder, bodies))
    one, two = (statistics.median(rates[n]) for n in PROCESSES)
    spread = {n: f"{min(rates[n]):.0f}-{max(rates[n]):.0f}/s" for n in PROCESSES}
    return f"""## One `serve` process or two on one port (SO_REUSEPORT), {os.cpu_count()} cores

| measure | one process (`serve` today) | two processes |
|---|---|---|
| signed 100-event HubSpot batches acknowledged per second (8 concurrent senders), median | **{one:.0f}** | **{two:.0f}** |
| rounds, lowest to highest | {spread[1]} | {spread[2]} |
| relative to one process | 1.00 | {two / one:.2f} |

Each of the {ROUNDS} rounds starts fresh servers on a fresh SQLite file and sends {WARM_UP} unmeasured
requests first. The load generator runs in a process of its own and takes one of the cores. Both
processes commit to the same SQLite file, so their commits take turns on its write lock.
{_verdict(two / one, rates)}
"""


def _verdict(gain: float, rates: dict[int, list[float]]) -> str:
    overlap = min(rates[2]) <= max(rates[1])
    if gain < 1.25 or overlap:
        within = ", inside the rounds' spread" if overlap else ""
        return (
            f"Not adopted: a second process adds {gain - 1:.0%} here{within}, and one process keeps one group commit, "
            "one worker supervisor and one /healthz. On a machine with cores to spare, run this again "
            "(`.venv/bin/python -m bench multiprocess`)."
        )
    return f"A second process adds {gain - 1:.0%} on this machine: worth offering as a `serve` option."
