"""The metrics port: what the core counts, free of any metrics library.

The core reports through `metrics()`, the process's sink; `serve` installs a Prometheus one,
the Lambda handlers an Embedded Metric Format one, and everything else keeps the no-op default.
Names and labels are declared once in `integration.ports.metric_names`; label values are
bounded (CRM names, routes, reasons), never record ids or personal data.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Where counts, gauges and durations go."""

    def count(self, name: str, n: float = 1, **labels: str) -> None:
        """Add `n` to a counter."""
        ...

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge to what it is now."""
        ...

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Record one duration."""
        ...


class NoMetrics:
    """The default sink: reports nothing, costs a call."""

    def count(self, name: str, n: float = 1, **labels: str) -> None:
        pass

    def gauge(self, name: str, value: float, **labels: str) -> None:
        pass

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        pass


_sink: Metrics = NoMetrics()


def metrics() -> Metrics:
    """The process's sink (the no-op one until a process installs another)."""
    return _sink


def use_metrics(sink: Metrics) -> Metrics:
    """Make `sink` the process's sink; returns the one it replaces (for tests to put back)."""
    global _sink
    previous, _sink = _sink, sink
    return previous
