"""Pipeline throughput through the fake CRM, API calls against the minimum, and a 100k-record sweep."""

from __future__ import annotations

import math
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from integration.ports import ChangeEvent, StoredAssessment
from integration.service.sweep import enqueue_due
from integration.service.worker import drain
from tests.pipeline_world import World, make_world

CALLS_TARGET = 1.05


def _burst(world: World, events: int, records: int, seed: int) -> list[ChangeEvent]:
    rng = random.Random(seed)
    refs = [world.contact(str(n)) for n in range(1, records + 1)]
    return [world.event(rng.choice(refs), f"evt-{seed}-{i}") for i in range(events)]


def _throughput(folder: Path) -> tuple[float, int, int]:
    world = make_world(folder)
    events = _burst(world, 20_000, 5_000, seed=1)
    world.queue.enqueue(events)
    started = time.perf_counter()
    report = drain(world.pipeline)
    elapsed = time.perf_counter() - started
    return report.records / elapsed, report.records, len(events)


def _calls(folder: Path) -> tuple[int, int, int, int]:
    world = make_world(folder)
    world.queue.enqueue(_burst(world, 1_000, 300, seed=2))
    report = drain(world.pipeline)
    calls = len(world.crm.fetch_calls) + len(world.crm.write_calls)
    minimum = math.ceil(report.records / world.crm.read_batch_size) + math.ceil(
        report.written / world.crm.write_batch_size
    )
    return calls, minimum, report.written, report.records


def _sweep(folder: Path) -> tuple[int, int, float]:
    world = make_world(folder)
    now = world.clock.now
    far, soon = now + timedelta(days=365), now - timedelta(seconds=1)
    refs = [world.contact(str(n)) for n in range(1, 100_001)]
    due = set(refs[::1000])  # 100 records
    for ref in refs:
        world.state.save(
            ref,
            StoredAssessment(60, 60, 60, "warm", "mql", [], "call", now, next_drop_at=soon if ref in due else far),
        )
    started = time.perf_counter()
    queued = enqueue_due(world.state, world.queue, now)
    drain(world.pipeline)
    elapsed = time.perf_counter() - started
    touched = {r for call in world.crm.fetch_calls for r in call}
    assert touched == due == set(queued), "the sweep touched records that were not due"
    return len(refs), len(touched), elapsed


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "a").mkdir()
        (base / "b").mkdir()
        (base / "c").mkdir()
        rate, records, events = _throughput(base / "a")
        calls, minimum, written, assessed = _calls(base / "b")
        stored, touched, sweep_s = _sweep(base / "c")
    ratio = calls / minimum
    verdict = "meets" if ratio <= CALLS_TARGET else "MISSES"
    return f"""## Pipeline (embedded SQLite backend, in-memory fake CRM)

| measure | value |
|---|---|
| burst | {events:,} events over {records:,} records |
| records assessed and settled per second | **{rate:,.0f}** |
| API calls for 1,000 events over 300 records ({assessed} assessed, {written} written) | {calls} |
| theoretical minimum: ceil({assessed}/100) reads + ceil({written}/100) writes | {minimum} |
| calls / minimum | **{ratio:.2f}x** ({verdict} the target of {CALLS_TARGET}x) |
| sweep over {stored:,} stored records of which 100 are due: records fetched | {touched} |
| sweep time (queue the due, fetch, assess, write) | {sweep_s * 1000:.0f} ms |
"""
