"""The metrics port as CloudWatch Embedded Metric Format: JSON log lines CloudWatch turns into metrics.

A Lambda invocation collects its counts in memory and writes them when it ends, usually as
one line on stdout (the function's log stream). Namespace "leadtherm"; the dimensions are the
handler ("function") and the labels named in `DIMENSIONS`; other labels (a CRM call's kind)
are summed over, so the line count stays at one per invocation unless it served several
CRMs. Light on purpose: the HTTP handler's cold start imports this module.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from integration.ports.metric_names import DECLARED
from integration.ports.metrics import use_metrics

NAMESPACE = "leadtherm"
DIMENSIONS = ("crm", "route", "reason", "intake")
_MAX_METRICS = 100  # per directive, as the specification allows
_MAX_VALUES = 100  # per metric (an array of observations)

Labels = tuple[tuple[str, str], ...]


class EmfMetrics:
    """Counts, gauges and durations of one invocation, written as EMF documents by `flush`."""

    def __init__(self, function: str) -> None:
        self.function = function
        self._values: dict[Labels, dict[str, Any]] = {}

    def _slot(self, name: str, labels: dict[str, str]) -> tuple[dict[str, Any], str]:
        declared = DECLARED[name]  # an undeclared name is a bug: KeyError in the tests that cover the hook
        kept = tuple(sorted((k, v) for k, v in labels.items() if k in DIMENSIONS))
        return self._values.setdefault(kept, {}), declared.short

    def count(self, name: str, n: float = 1, **labels: str) -> None:
        values, key = self._slot(name, labels)
        values[key] = values.get(key, 0) + n

    def gauge(self, name: str, value: float, **labels: str) -> None:
        values, key = self._slot(name, labels)
        values[key] = value

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        values, key = self._slot(name, labels)
        held = values.setdefault(key, [])
        if len(held) < _MAX_VALUES:
            held.append(seconds)

    def documents(self, now_ms: int | None = None) -> list[dict[str, Any]]:
        """The EMF documents: label sets that agree on every dimension share one document."""
        stamp = int(time.time() * 1000) if now_ms is None else now_ms
        documents: list[dict[str, Any]] = []
        for labels, values in sorted(self._values.items()):
            if not values:
                continue
            dims = {"function": self.function, **dict(labels)}
            document = next((d for d in documents if _fits(d, dims, values)), None)
            if document is None:
                document = {"_aws": {"Timestamp": stamp, "CloudWatchMetrics": []}}
                documents.append(document)
            document.update(dims)
            document.update(values)
            document["_aws"]["CloudWatchMetrics"].append(
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dims)],
                    "Metrics": [{"Name": key, "Unit": _unit(key)} for key in values],
                }
            )
        return documents

    def flush(self, stream: TextIO | None = None) -> None:
        """Write the documents, one JSON line each, and start over."""
        out = sys.stdout if stream is None else stream
        for document in self.documents():
            out.write(json.dumps(document, separators=(",", ":")) + "\n")
        out.flush()
        self._values.clear()


_UNITS = {d.short: d.unit for d in DECLARED.values()}


def _unit(key: str) -> str:
    return _UNITS[key]


def _fits(document: dict[str, Any], dims: dict[str, str], values: dict[str, Any]) -> bool:
    """True when `dims` agree with the document's and none of `values` is in it yet."""
    if any(key in document and document[key] != value for key, value in dims.items()):
        return False
    if any(key in document for key in values):
        return False
    taken = sum(len(d["Metrics"]) for d in document["_aws"]["CloudWatchMetrics"])
    return taken + len(values) <= _MAX_METRICS


@contextmanager
def invocation(function: str, stream: TextIO | None = None) -> Iterator[EmfMetrics]:
    """The process's sink for the length of one Lambda invocation; its EMF lines written at the end."""
    sink = EmfMetrics(function)
    previous = use_metrics(sink)
    try:
        yield sink
    finally:
        use_metrics(previous)
        sink.flush(stream)
