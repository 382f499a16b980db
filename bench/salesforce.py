"""Salesforce figures: outbound-message acknowledgement, propagation, API calls per 1,000 notifications."""

from __future__ import annotations

import math
import os
import random
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from flask import Flask, Response
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.salesforce.inbound import ACK, outbound_endpoint
from bench.hubspot import ACK_REQUESTS, _load, _quantile, _serve, change_to_write_delays
from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime, build_runtime
from integration.service.backfill import backfill
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import drain, run_worker
from mappings.loader import load_mapping
from webhooks.app import AppConfig, create_app

BACKFILL_LEADS = 50_000
OUTBOUND_SECRET = "bench-outbound-url-secret-0123"
LEAD = {"Title": "Head of Marketing", "NumberOfEmployees": 300, "Industry": "Software", "Country": "Sweden",
        "LeadSource": "Web", "Status": "Open - Not Contacted"}  # fmt: skip


def _env(sandbox: SalesforceSandbox, folder: Path) -> dict[str, str]:
    return {
        "SALESFORCE_USERNAME": sandbox.username, "SALESFORCE_PASSWORD": sandbox.password,
        "SALESFORCE_SECURITY_TOKEN": sandbox.security_token, "SALESFORCE_DOMAIN": sandbox.login_domain,
        "SALESFORCE_ORG_ID": sandbox.org_id, "SALESFORCE_RATE_LIMIT": "100000/10",
        "SALESFORCE_OUTBOUND_SECRET": OUTBOUND_SECRET,
        "LEADTHERM_DB": str(folder / "leadtherm.db"),
    }  # fmt: skip


def _started(folder: Path, leads: int) -> tuple[SalesforceSandbox, list[str], Runtime, str, object]:
    sandbox = SalesforceSandbox()
    sandbox.start()
    os.environ["REQUESTS_CA_BUNDLE"] = sandbox.ca_bundle_path
    ids = [sandbox.create_lead({**LEAD, "Email": f"p{n}@acme.example"}) for n in range(leads)]
    env = _env(sandbox, folder)
    build_runtime(env, ["salesforce"]).plugins["salesforce"].setup(load_mapping("salesforce"), env)
    runtime = build_runtime(env, ["salesforce"], settings=PipelineSettings(retry=replace(POLICY, queue_delay=0.05)))
    url, server = _serve(create_app(AppConfig(runtime.queue, routes_of(runtime, env))))
    return sandbox, ids, runtime, url, server


def ack_figures(folder: Path) -> dict[str, float]:
    sandbox, ids, _runtime, url, server = _started(folder, 100)
    rng = random.Random(1)
    bodies = []
    for n in range(ACK_REQUESTS):
        notifications = [{"Id": f"04l5g{n:05d}{i:05d}AAA", "type": "Lead", "values": {"Id": rng.choice(ids), "LastModifiedById": "0055g00000PersonAAA"}}
                         for i in range(100)]  # fmt: skip
        bodies.append(sandbox.outbound_body(notifications))
    bare = Flask("bare")
    bare.add_url_rule("/webhooks/salesforce", "bare", lambda: Response(ACK, content_type="text/xml"), methods=["POST"])
    bare_url, bare_server = _serve(bare)
    ours, ours_rps = _load(outbound_endpoint(url, OUTBOUND_SECRET), bodies, None)
    base, base_rps = _load(outbound_endpoint(bare_url, OUTBOUND_SECRET), bodies, None)
    for closing in (server, bare_server):
        closing.close()  # type: ignore[attr-defined]
    sandbox.stop()
    return {"p50": _quantile(ours, 50) * 1000, "p99": _quantile(ours, 99) * 1000, "rps": ours_rps,
            "bare_p50": _quantile(base, 50) * 1000, "bare_rps": base_rps}  # fmt: skip


def propagation(folder: Path, rate: float = 50.0, seconds: float = 20.0) -> tuple[float, float, int, int]:
    sandbox, ids, runtime, url, server = _started(folder, 500)
    stop = threading.Event()
    threading.Thread(target=run_worker, args=(runtime.pipeline, stop, 0.01), daemon=True).start()
    sandbox.configure_outbound(outbound_endpoint(url, OUTBOUND_SECRET))
    rng = random.Random(2)
    changes: list[tuple[float, str]] = []
    start = time.monotonic()
    rating: dict[str, str] = {}
    for n in range(int(rate * seconds)):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        lead = rng.choice(ids)
        # Hot and Warm are worth different points: every change leads to a write, so each is timed.
        rating[lead] = "Warm" if rating.get(lead) == "Hot" else "Hot"
        changes.append((time.monotonic(), lead))
        sandbox.update_record("Lead", lead, {"Rating": rating[lead]})
    sandbox.flush_outbound(30)
    deadline = time.monotonic() + 30
    while runtime.queue.stats().depth and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    delays = change_to_write_delays(changes, list(sandbox.write_times))
    retries = runtime.clients["salesforce"].stats.retries
    sandbox.outbound_url = None
    server.close()  # type: ignore[attr-defined]
    sandbox.stop()
    return _quantile(delays, 50), _quantile(delays, 95), len(delays), retries


def calls_per_thousand(folder: Path) -> tuple[int, int, int]:
    sandbox, ids, runtime, url, server = _started(folder, 300)
    sandbox.configure_outbound(outbound_endpoint(url, OUTBOUND_SECRET))
    rng = random.Random(3)
    for n in range(1000):
        sandbox.update_record("Lead", ids[n] if n < 300 else rng.choice(ids), {"Rating": "Warm" if n % 2 else "Hot"})
    sandbox.flush_outbound(30)
    report = drain(runtime.pipeline)
    stats = runtime.clients["salesforce"].stats
    minimum = math.ceil(report.records / 200) + math.ceil(report.written / 200)
    sandbox.outbound_url = None
    server.close()  # type: ignore[attr-defined]
    sandbox.stop()
    return stats.calls["fetch"] + stats.calls["write"] - stats.retries, minimum, stats.retries


def backfill_figures(folder: Path, leads: int, bulk: bool) -> tuple[float, int, int]:
    """Seconds, API requests and records written to backfill `leads` Leads, through Bulk API 2.0 or REST."""
    sandbox = SalesforceSandbox()
    sandbox.start()
    os.environ["REQUESTS_CA_BUNDLE"] = sandbox.ca_bundle_path
    for n in range(leads):
        sandbox.create_lead({**LEAD, "Email": f"p{n}@acme.example"})
    env = _env(sandbox, folder)
    build_runtime(env, ["salesforce"]).plugins["salesforce"].setup(load_mapping("salesforce"), env)
    runtime = build_runtime(env, ["salesforce"])
    client = runtime.clients["salesforce"].inner
    client.bulk_poll = 0.05  # type: ignore[attr-defined]
    client.bulk_threshold = 10_000 if bulk else 10**9  # type: ignore[attr-defined]
    before = sum(sandbox.calls.values())
    started = time.perf_counter()
    report = backfill(runtime.pipeline, "salesforce", ["Lead"], runtime.state, runtime.queue, 200)
    elapsed = time.perf_counter() - started
    requests_made = sum(sandbox.calls.values()) - before
    sandbox.stop()
    return elapsed, requests_made, report.written


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(tmp) / name for name in ("ack", "prop", "calls")]
        for folder in folders:
            folder.mkdir()
        ack = ack_figures(folders[0])
        p50, p95, writes, prop_retries = propagation(folders[1])
        calls, minimum, retries = calls_per_thousand(folders[2])
        (Path(tmp) / "rest").mkdir()
        (Path(tmp) / "bulk").mkdir()
        rest_s, rest_calls, rest_written = backfill_figures(Path(tmp) / "rest", BACKFILL_LEADS, bulk=False)
        bulk_s, bulk_calls, bulk_written = backfill_figures(Path(tmp) / "bulk", BACKFILL_LEADS, bulk=True)
    return f"""## Salesforce (HTTPS sandbox, real simple-salesforce, embedded SQLite backend)

| measure | leadtherm | baseline | target |
|---|---|---|---|
| outbound message with 100 notifications, ack p50 / p99 | {ack["p50"]:.1f} ms / {ack["p99"]:.1f} ms | bare Flask Ack: {ack["bare_p50"]:.1f} ms | |
| acks per second (8 concurrent senders), ratio to the bare route | {ack["rps"]:.0f} vs {ack["bare_rps"]:.0f}: **{ack["rps"] / ack["bare_rps"]:.2f}** | 1.00 | |
| end-to-end propagation at 50 changes/s, p50 / p95 ({writes} writes, {prop_retries} API retries) | {p50:.2f} s / **{p95:.2f} s** | | |
| API calls for 1,000 notifications over 300 Leads (SOQL + Collections) | {calls} (+{retries} retries) | minimum {minimum} | at most 1.05x: **{calls / minimum:.2f}x** |

| backfill of {BACKFILL_LEADS:,} Leads through Bulk API 2.0 (query job, ingest jobs of 10,000) | {bulk_s:.1f} s, {bulk_calls} HTTP requests, {bulk_written:,} written | REST (SOQL pages + Collections of 200): {rest_s:.1f} s, {rest_calls} requests, {rest_written:,} written | |
The sandbox's write log holds each Collections update; the first write after a change ends its propagation.
"""
