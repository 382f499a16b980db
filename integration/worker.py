"""The worker loop: drain the queue through the pipeline until told to stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from integration.pipeline import BatchReport, Pipeline

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
        report = pipeline.run_once()
        if report.events:
            log.info(
                "processed %d event(s): %d record(s), %d written, %d unchanged, %d retried, %d dead-lettered",
                report.events,
                report.records,
                report.written,
                report.unchanged,
                report.retried,
                report.dead_lettered,
            )
            if on_report is not None:
                on_report(report)
        else:
            stop.wait(idle_wait)
