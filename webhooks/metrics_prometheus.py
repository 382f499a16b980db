"""The metrics port on prometheus-client, and `GET /metrics` in the text exposition format.

Each sink has its own registry (not the library's global one), so a test can build several
apps in one process. Gauges that describe state (queue depth, intake lag) are read when
Prometheus scrapes, by the refreshers registered with `on_scrape`.

/metrics is served on the same port as the webhooks. It holds counts, depths and CRM names
only. When `LEADTHERM_METRICS_TOKEN` is set it answers only a request carrying
`Authorization: Bearer <token>`; without it, anyone who reaches the port may read the counts.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from itertools import product
from typing import Any

from flask import Flask, Response, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from integration.errors import LeadthermError
from integration.ports import WorkQueue
from integration.ports.metric_names import (
    DEAD_LETTERS,
    DECLARED,
    INTAKE_LAG,
    QUEUE_DEPTH,
    QUEUE_OLDEST_AGE,
    Kind,
    MetricName,
)
from integration.ports.metrics import Metrics

log = logging.getLogger("leadtherm.metrics")
TOKEN_ENV = "LEADTHERM_METRICS_TOKEN"


class UnknownMetric(LeadthermError):
    """A name that `integration.ports.metric_names` does not declare: a bug in the caller."""

    def __init__(self, name: str) -> None:
        super().__init__(f"metric {name!r} is not declared in integration/ports/metric_names.py")


def _build(declared: MetricName, registry: CollectorRegistry) -> Any:
    kinds: dict[Kind, Any] = {Kind.COUNTER: Counter, Kind.GAUGE: Gauge, Kind.HISTOGRAM: Histogram}
    return kinds[declared.kind](declared.name, declared.help, declared.labels, registry=registry)


class PrometheusMetrics:
    """The metrics port on a registry of its own."""

    def __init__(self, declared: Mapping[str, MetricName] = DECLARED) -> None:
        # The *_created series would double every scrape, and no alert reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self._declared = dict(declared)
        self._metrics = {name: _build(d, self.registry) for name, d in declared.items()}
        self._refreshers: list[Callable[[Metrics], None]] = []

    def preset(self, **values: Sequence[str]) -> None:
        """Create at 0 the series whose labels are all among `values` (e.g. crm=..., route=...).

        A series that appears at its first increment hides that increment from increase() and
        rate(): with the series there from the start, an alert on the first dead letter fires.
        """
        for name, declared in self._declared.items():
            if declared.labels and declared.kind is not Kind.HISTOGRAM and set(declared.labels) <= values.keys():
                for combination in product(*(values[label] for label in declared.labels)):
                    self._metrics[name].labels(*combination)

    def _metric(self, name: str, labels: Mapping[str, str]) -> Any:
        metric = self._metrics.get(name)
        if metric is None:
            raise UnknownMetric(name)
        return metric.labels(**labels) if labels else metric

    def count(self, name: str, n: float = 1, **labels: str) -> None:
        self._metric(name, labels).inc(n)

    def gauge(self, name: str, value: float, **labels: str) -> None:
        self._metric(name, labels).set(value)

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        self._metric(name, labels).observe(seconds)

    def on_scrape(self, refresh: Callable[[Metrics], None]) -> None:
        """Call `refresh(self)` before each scrape: it sets the gauges that describe state now."""
        self._refreshers.append(refresh)

    def exposition(self) -> bytes:
        """The text exposition format, gauges refreshed; a refresher that fails leaves its gauges as they were."""
        for refresh in self._refreshers:
            try:
                refresh(self)
            except LeadthermError as exc:
                log.warning("metrics: could not refresh a gauge (%s)", type(exc).__name__)
        return generate_latest(self.registry)


def queue_gauges(queue: WorkQueue) -> Callable[[Metrics], None]:
    """A refresher: queue depth, oldest waiting age and dead letters from the queue's own stats."""

    def refresh(sink: Metrics) -> None:
        stats = queue.stats()
        sink.gauge(QUEUE_DEPTH, stats.depth)
        sink.gauge(QUEUE_OLDEST_AGE, stats.oldest_age_seconds or 0.0)
        sink.gauge(DEAD_LETTERS, stats.dead_letters)

    return refresh


def intake_lag(crm: str, intake: str, lag: Callable[[], float | None]) -> Callable[[Metrics], None]:
    """A refresher: how far an intake is behind (left as it was while it does not know)."""

    def refresh(sink: Metrics) -> None:
        seconds = lag()
        if seconds is not None:
            sink.gauge(INTAKE_LAG, seconds, crm=crm, intake=intake)

    return refresh


def mount_metrics(app: Flask, sink: PrometheusMetrics, env: Mapping[str, str]) -> None:
    """`GET /metrics` on `app`, behind a bearer token when `LEADTHERM_METRICS_TOKEN` is set."""
    token = (env.get(TOKEN_ENV) or "").strip()

    def scrape() -> Response | tuple[Response, int]:
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return jsonify(error="Unauthorized", reason=f"a bearer token is required ({TOKEN_ENV})"), 401
        return Response(sink.exposition(), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", scrape, methods=["GET"])
