"""HubSpot figures: webhook acknowledgement, propagation, API calls per 1,000 events, backfill.

The ack and propagation runs serve /metrics as `serve` does and scrape it every second
while they run: the counters must move, and the ack ratio is measured with metrics on.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from prometheus_client.parser import text_string_to_metric_families

from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime, build_runtime
from integration.ports import metric_names as names
from integration.ports.metrics import NoMetrics, use_metrics
from integration.service.backfill import backfill
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import drain, run_worker
from webhooks.app import AppConfig, create_app
from webhooks.metrics_prometheus import PrometheusMetrics, mount_metrics, queue_gauges
from webhooks.server import create_server, tune_for_serving

TOKEN, SECRET = "bench-token", "bench-secret"
ACK_REQUESTS = 1000
HOT = {"jobtitle": "Head of Marketing", "numemployees": "100-500", "industry": "Software", "country": "Sweden",
       "hs_analytics_source": "ORGANIC_SEARCH", "hs_analytics_num_visits": "4", "num_conversion_events": "1"}  # fmt: skip


def _serve(app: Any) -> tuple[str, Any]:
    """The app on the server `serve` runs (its limits, keep-alive and tuning), on an ephemeral port."""
    tune_for_serving()
    server: Any = create_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}", server


class Scraper:
    """Scrapes /metrics every `every` seconds from a process of its own, as Prometheus would."""

    def __init__(self, url: str, every: float = 1.0) -> None:
        context = multiprocessing.get_context("spawn")
        self.url = f"{url}/metrics"
        self.paused = context.Event()  # set while another server is measured: scraping would slow it down
        self._stop = context.Event()
        self._answers, sending = context.Pipe(duplex=False)
        self.scrapes = [_scrape(self.url)]
        self._process = context.Process(
            target=_scrape_until, args=(self.url, every, self.paused, self._stop, sending), daemon=True
        )
        self._process.start()

    def stop(self) -> dict[str, Any]:
        """How much each counter moved from the first scrape to the last, and the queue depth's peak."""
        self._stop.set()
        self.scrapes += self._answers.recv()
        self._process.join(10)
        first, last = self.scrapes[0], self.scrapes[-1]
        moved = {n: last.get(n, 0.0) - first.get(n, 0.0) for n in last if n.endswith("_total")}
        peak_depth = max(s.get(names.QUEUE_DEPTH, 0.0) for s in self.scrapes)
        return {"scrapes": len(self.scrapes), "moved": moved, "peak_depth": peak_depth}


def _scrape(url: str) -> dict[str, float]:
    """Each metric's samples summed over their labels (buckets left out)."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(url, timeout=10).text):
        for sample in family.samples:
            if "le" not in sample.labels:
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def _scrape_until(url: str, every: float, paused: Any, stop: Any, answers: Any) -> None:
    scrapes = []
    while not stop.wait(every):
        if not paused.is_set():
            scrapes.append(_scrape(url))
    scrapes.append(_scrape(url))
    answers.send(scrapes)


def _app_with_metrics(runtime: Runtime, env: dict[str, str]) -> Flask:
    """The webhook app as `serve` builds it: a Prometheus sink of its own and GET /metrics."""
    sink = PrometheusMetrics()
    use_metrics(sink)
    sink.on_scrape(queue_gauges(runtime.queue))
    app = create_app(AppConfig(runtime.queue, routes_of(runtime, env)))
    mount_metrics(app, sink, {})
    return app


def _env(sandbox: HubSpotSandbox, folder: Path, rate: str = "100000/10") -> dict[str, str]:
    return {
        "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_CLIENT_SECRET": SECRET, "HUBSPOT_API_BASE": sandbox.base_url,
        "HUBSPOT_RATE_LIMIT": rate, "LEADTHERM_DB": str(folder / "leadtherm.db"),
    }  # fmt: skip


def _runtime(sandbox: HubSpotSandbox, folder: Path, rate: str = "100000/10") -> Runtime:
    env = _env(sandbox, folder, rate)
    runtime = build_runtime(env, ["hubspot"], settings=PipelineSettings(retry=replace(POLICY, queue_delay=0.05)))
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    return runtime


def _batch(offset: int) -> bytes:
    return json.dumps([
        {"eventId": offset + i, "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": int(time.time() * 1000),
         "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 1001 + (offset + i) % 5000,
         "propertyName": "hs_analytics_num_page_views", "propertyValue": "7", "changeSource": "CRM_UI", "sourceId": "x"}
        for i in range(100)
    ]).encode()  # fmt: skip


def _load(url: str, bodies: list[bytes], secret: str | None) -> tuple[list[float], float]:
    """Run the load from its own process, so that client and server do not share one GIL."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: tuple[list[float], float] = pool.apply(_load_in_child, (url, bodies, secret))
    return result


def _load_in_child(url: str, bodies: list[bytes], secret: str | None) -> tuple[list[float], float]:
    """Latency of each request sent one at a time, and requests/s with 8 concurrent senders.

    With a secret the bodies are signed as HubSpot signs them; without, sent as SOAP (Salesforce).
    """
    signer = HubSpotSandbox(access_token=TOKEN)
    signer.client_secret = secret or ""

    def headers(target: str, body: bytes) -> dict[str, str]:
        if secret is None:
            return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        return signer.signed_request(target, body)

    session = requests.Session()
    latencies = []
    for body in bodies[: len(bodies) // 2]:
        started = time.perf_counter()
        assert session.post(url, data=body, headers=signer.signed_request(url, body), timeout=10).status_code in (
            200,
            204,
        )
        latencies.append(time.perf_counter() - started)
    rest = bodies[len(bodies) // 2 :]
    local = threading.local()

    def post(body: bytes) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return int(local.session.post(url, data=body, headers=headers(url, body), timeout=10).status_code)

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, rest))
    assert set(codes) <= {200, 204}
    return latencies, len(rest) / (time.perf_counter() - started)


def _quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


ROUNDS = 3  # ours and the bare route measured in turn, order swapped each round
WARM_UP = 100  # requests to each server before measuring (first commits grow the WAL, first calls fill caches)


def ack_figures(folder: Path) -> dict[str, Any]:
    """Ack latency and throughput of the HubSpot route against a bare 204 route on the same server.

    Each round measures ours (metrics on, /metrics scraped every second), ours with metrics
    off (the no-op sink, no scrapes) and the bare route, in a rotating order, with fresh event
    ids; each ratio is the median of the rounds' ratios, so one round disturbed by the machine
    does not decide it. Metrics on against off is their cost on the same machine at the same time.
    """
    sandbox = HubSpotSandbox(access_token=TOKEN)
    sandbox.start()
    runtime = _runtime(sandbox, folder)
    env = _env(sandbox, folder)
    url, server = _serve(_app_with_metrics(runtime, env))
    bare = Flask("bare")
    bare.add_url_rule("/webhooks/hubspot", "bare", lambda: Response(status=204), methods=["POST"])
    bare_url, bare_server = _serve(bare)
    targets = {"ours": f"{url}/webhooks/hubspot", "plain": f"{url}/webhooks/hubspot",
               "bare": f"{bare_url}/webhooks/hubspot"}  # fmt: skip
    warm = [_batch(10_000_000 + n * 100) for n in range(WARM_UP)]
    for target in (targets["ours"], targets["bare"]):
        _load(target, warm, SECRET)
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    rates: dict[str, list[float]] = {name: [] for name in targets}
    scraper = Scraper(url)
    orders = [("ours", "plain", "bare"), ("bare", "ours", "plain"), ("plain", "bare", "ours")]
    batch = 0
    for turn in range(ROUNDS):
        for name in orders[turn % len(orders)]:
            bodies = [_batch((batch + n) * 100) for n in range(ACK_REQUESTS)]
            batch += ACK_REQUESTS
            sink = use_metrics(NoMetrics()) if name == "plain" else None
            if name != "ours":
                scraper.paused.set()
            one_at_a_time, rps = _load(targets[name], bodies, SECRET)
            scraper.paused.clear()
            if sink is not None:
                use_metrics(sink)
            latencies[name] += one_at_a_time
            rates[name].append(rps)
    scraped = scraper.stop()
    for closing in (server, bare_server):
        closing.close()
    sandbox.stop()
    ratios = [o / b for o, b in zip(rates["ours"], rates["bare"], strict=True)]
    plain = [p / b for p, b in zip(rates["plain"], rates["bare"], strict=True)]
    cost = [o / p for o, p in zip(rates["ours"], rates["plain"], strict=True)]
    middle = ratios.index(statistics.median(ratios))
    return {
        "p50": _quantile(latencies["ours"], 50) * 1000, "p99": _quantile(latencies["ours"], 99) * 1000,
        "bare_p50": _quantile(latencies["bare"], 50) * 1000, "bare_p99": _quantile(latencies["bare"], 99) * 1000,
        "rps": rates["ours"][middle], "bare_rps": rates["bare"][middle], "ratio": ratios[middle], "ratios": ratios,
        "plain_ratio": statistics.median(plain), "metrics_cost": statistics.median(cost), "scraped": scraped,
    }  # fmt: skip


def ack_rounds(ack: dict[str, Any]) -> str:
    """The per-round ratios, for the text under a table."""
    return ", ".join(f"{r:.2f}" for r in ack["ratios"])


def change_to_write_delays(changes: list[tuple[float, str]], writes: list[tuple[float, str]]) -> list[float]:
    """Each write covers every earlier unmatched change of its contact; timed from the oldest of them."""
    pending: dict[str, list[float]] = {}
    events = sorted([(t, 0, c) for t, c in changes] + [(t, 1, c) for t, c in writes])
    delays = []
    for at, kind, contact in events:
        if kind == 0:
            pending.setdefault(contact, []).append(at)
        elif pending.get(contact):
            delays.append(at - pending.pop(contact)[0])
    return delays


def propagation(folder: Path, rate: float = 100.0, seconds: float = 20.0) -> tuple[float, float, int, dict[str, Any]]:
    """p50/p95 seconds from a change in HubSpot to the written field, at `rate` changes per second."""
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(1000, 10.0))
    sandbox.start()
    contacts = [sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"}) for n in range(1000)]
    runtime = _runtime(sandbox, folder, "1000/10")
    url, server = _serve(_app_with_metrics(runtime, _env(sandbox, folder)))
    scraper = Scraper(url)
    stop = threading.Event()
    threading.Thread(target=run_worker, args=(runtime.pipeline, stop, 0.01), daemon=True).start()
    sandbox.configure_webhooks(f"{url}/webhooks/hubspot", SECRET, batch_window=0.05)
    rng = random.Random(1)
    views: dict[str, int] = {}
    changes: list[tuple[float, str]] = []
    start = time.monotonic()
    for n in range(int(rate * seconds)):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        contact = rng.choice(contacts)
        views[contact] = views.get(contact, 0) + 5  # always moves the page-view points, so a write follows
        changes.append((time.monotonic(), contact))
        sandbox.update_contact(contact, {"hs_analytics_num_page_views": str(views[contact])})
    sandbox.flush_webhooks(30)
    deadline = time.monotonic() + 30
    while runtime.queue.stats().depth and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    scraped = scraper.stop()
    delays = change_to_write_delays(changes, list(sandbox.write_times))
    sandbox.webhook_url = None
    server.close()
    sandbox.stop()
    return _quantile(delays, 50), _quantile(delays, 95), len(delays), scraped


def calls_per_thousand(folder: Path) -> tuple[int, int, int]:
    sandbox = HubSpotSandbox(access_token=TOKEN)
    sandbox.start()
    contacts = [sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"}) for n in range(300)]
    runtime = _runtime(sandbox, folder)
    url, server = _serve(create_app(AppConfig(runtime.queue, routes_of(runtime, _env(sandbox, folder)))))
    sandbox.configure_webhooks(f"{url}/webhooks/hubspot", SECRET)
    rng = random.Random(2)
    for n in range(1000):
        sandbox.update_contact(contacts[n] if n < 300 else rng.choice(contacts), {"hs_email_open": str(n)})
    sandbox.flush_webhooks(30)
    report = drain(runtime.pipeline)
    stats = runtime.clients["hubspot"].stats
    calls = stats.calls["fetch"] + stats.calls["write"] - stats.retries  # first attempts; retries reported apart
    minimum = math.ceil(report.records / 100) + math.ceil(report.written / 100)
    sandbox.webhook_url = None
    server.close()
    sandbox.stop()
    return calls, minimum, stats.retries


def backfill_figures(folder: Path, contacts: int = 20_000) -> tuple[float, float, int, int]:
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(100, 10.0))
    sandbox.start()
    for n in range(contacts):
        sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"})
    runtime = _runtime(sandbox, folder, "100/10")
    time.sleep(10)  # setup's calls leave the rolling window before the clock starts
    client = runtime.clients["hubspot"]
    client.stats.calls.update(dict.fromkeys(client.stats.calls, 0))
    started = time.monotonic()
    total = client.count("contact")
    backfill(runtime.pipeline, "hubspot", ["contact"], runtime.state, runtime.queue, 100)
    elapsed = time.monotonic() - started
    calls = client.stats.total
    floor = ((calls - 1) // 100) * 10.0  # call n can start no earlier than floor(n / 100) * 10 s
    sandbox.stop()
    assert total == contacts
    return elapsed, floor, calls, sandbox.count_429


def run() -> str:
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(tmp) / name for name in ("ack", "prop", "calls", "backfill")]
        for folder in folders:
            folder.mkdir()
        ack = ack_figures(folders[0])
        p50, p95, writes, flowing = propagation(folders[1])
        calls, minimum, retries = calls_per_thousand(folders[2])
        elapsed, floor, backfill_calls, limited = backfill_figures(folders[3])
    ratio = ack["ratio"]
    acked, moved = ack["scraped"]["moved"], flowing["moved"]
    return f"""## HubSpot (sandbox over HTTP, real hubspot-api-client, embedded SQLite backend)

| measure | leadtherm | baseline | target |
|---|---|---|---|
| webhook ack of a 100-event signed batch, p50 | {ack["p50"]:.1f} ms | bare Flask 204 on waitress: {ack["bare_p50"]:.1f} ms | |
| webhook ack, p99 | **{ack["p99"]:.1f} ms** | {ack["bare_p99"]:.1f} ms | under 20 ms |
| webhook acks per second (8 concurrent senders) | {ack["rps"]:.0f} | {ack["bare_rps"]:.0f} | |
| acks/s as a ratio to the bare route (metrics on, /metrics scraped every second) | **{ratio:.2f}** | 1.00 | at least 0.5 |
| acks/s with metrics on, as a ratio to metrics off (same server, same rounds) | {ack["metrics_cost"]:.2f} | metrics off / bare: {ack["plain_ratio"]:.2f} | |
| /metrics during the ack rounds ({ack["scraped"]["scrapes"]} scrapes): requests / acknowledged / events queued | +{acked.get(names.WEBHOOK_REQUESTS, 0):.0f} / +{acked.get(names.WEBHOOK_ACKNOWLEDGED, 0):.0f} / +{acked.get(names.WEBHOOK_EVENTS_QUEUED, 0):.0f} | | moving |
| /metrics during propagation ({flowing["scrapes"]} scrapes): assessed / written / API calls / peak queue depth | +{moved.get(names.RECORDS_ASSESSED, 0):.0f} / +{moved.get(names.RECORDS_WRITTEN, 0):.0f} / +{moved.get(names.CRM_API_CALLS, 0):.0f} / {flowing["peak_depth"]:.0f} | | moving |
| end-to-end propagation at 100 changes/s, p50 / p95 ({writes} writes) | {p50:.2f} s / **{p95:.2f} s** | | |
| API calls for 1,000 events over 300 contacts (fetch + write) | {calls} (+{retries} retries) | minimum {minimum} | at most 1.05x: **{calls / minimum:.2f}x** |
| backfill of 20,000 contacts under 100 requests / 10 s | {elapsed:.1f} s, {backfill_calls} calls, {limited} 429s | floor {floor:.1f} s | at most 1.15x: **{elapsed / floor:.2f}x** |

Acks/s: {ACK_REQUESTS // 2} signed 100-event batches from 8 concurrent senders reusing their connections,
after {WARM_UP} unmeasured requests to each server; {ROUNDS} rounds of ours (metrics on, /metrics scraped every
second), ours with metrics off and the bare route, in rotating order; the round with the median ratio is
shown (ratios {ack_rounds(ack)}). 1-minute load average at the start: {load:.1f} on {os.cpu_count()} cores.
Every acknowledgement is a durable SQLite commit (`synchronous=FULL`) of 100 events; the bare route
does no work at all. The floor is the time the rolling limit allows for the calls the backfill
needs (one page read and one batch write per 100 contacts).
"""
