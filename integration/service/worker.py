"""The worker loop: drain the queue through the pipeline until told to stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from integration.errors import LeadthermError
from integration.service.pipeline import BatchReport, Pipeline

log = logging.getLogger("leadtherm.worker")


def drain(pipeline: Pipeline, max_passes: int = 1_000_000) -> BatchReport:
    """Process until the queue has nothing visible; returns the combined report."""
    total = BatchReport()
    for _ in range(max_passes):
        report = pipeline.run_once()
        if report.events == 0:
            break
        total.add(report)
    return total


def run_worker(
    pipeline: Pipeline,
    stop: threading.Event,
    idle_wait: float = 0.1,
    on_report: Callable[[BatchReport], None] | None = None,
) -> None:
    """Lease, process, repeat; waits `idle_wait` when the queue is empty."""
    while not stop.is_set():
        try:
            report = pipeline.run_once()
        except LeadthermError as exc:
            # A typed failure outside any one event (the database busy, the CRM unreachable):
            # leased events come back after their visibility timeout; keep the worker alive.
            log.error("worker pass failed, retrying: %s", exc)
            stop.wait(max(idle_wait, 1.0))
            continue
        except Exception as exc:  # noqa: BLE001 - a bug outside any one record must not end the worker either
            # The type only: an unforeseen exception's message may quote a record's value.
            log.error("worker pass failed unexpectedly (%s), retrying; its events come back", type(exc).__name__)
            stop.wait(max(idle_wait, 1.0))
            continue
        if report.events:
            log.info("%s", describe_pass(report))
            if on_report is not None:
                on_report(report)
        else:
            stop.wait(idle_wait)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def describe_pass(report: BatchReport) -> str:
    """The worker's log line for a pass, naming the events it dropped (so a pass of 0 records is explained)."""
    line = (
        f"processed {report.events} event(s): {report.records} record(s), {report.written} written, "
        f"{report.unchanged} unchanged, {report.retried} retried, {report.dead_lettered} dead-lettered"
    )
    dropped = [
        _count(report.echoes, "echo of its own write", "echoes of its own writes") if report.echoes else "",
        _count(report.duplicates, "duplicate", "duplicates") if report.duplicates else "",
        _count(report.irrelevant, "change to fields it does not read", "changes to fields it does not read")
        if report.irrelevant
        else "",
    ]
    dropped = [d for d in dropped if d]
    return line + (f"; dropped {', '.join(dropped)}" if dropped else "")
