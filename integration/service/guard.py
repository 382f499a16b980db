"""Wrap any CrmClient with the token bucket, the retry policy and call counting."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying

from integration.errors import RateLimited
from integration.ports import (
    ChangeEvent,
    CrmClient,
    FetchResult,
    FieldWrite,
    Page,
    RecordRef,
    WriteResult,
)
from integration.ports.metric_names import CRM_API_CALLS, CRM_RATE_LIMITED
from integration.ports.metrics import metrics
from integration.service.ratelimit import TokenBucket
from integration.service.retry import retry_on_rate_limit

T = TypeVar("T")


@dataclass
class CallStats:
    """API traffic as the pipeline saw it: for /healthz, the demo summary and the benchmarks."""

    calls: dict[str, int] = field(
        default_factory=lambda: {"fetch": 0, "write": 0, "page": 0, "count": 0, "related": 0, "missing_outputs": 0}
    )
    retries: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def count_call(self, kind: str) -> None:
        with self._lock:
            self.calls[kind] += 1

    def count_retry(self, rate_limited: bool) -> None:
        with self._lock:
            self.retries += 1
            self.rate_limited += int(rate_limited)


class GuardedClient:
    """A CrmClient that waits for a token before each request and retries what is retriable."""

    def __init__(
        self,
        client: CrmClient,
        bucket: TokenBucket | None = None,
        retrying: Callable[..., Retrying] = retry_on_rate_limit,
    ) -> None:
        self.inner = client
        self.crm = client.crm
        self.bucket = bucket
        self.stats = CallStats()
        self._retrying = retrying(before_sleep=self._on_retry)

    def unguarded(self) -> CrmClient:
        """The adapter's own client, for an intake that shares its session; calls through it skip the guard."""
        return self.inner

    @property
    def read_batch_size(self) -> int:
        return self.inner.read_batch_size

    @property
    def write_batch_size(self) -> int:
        # Read through: a client may change mode (Salesforce switches to Bulk API 2.0 for a big backfill).
        return self.inner.write_batch_size

    def _on_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        limited = isinstance(error, RateLimited)
        if limited and self.bucket is not None:
            self.bucket.drain()
        self.stats.count_retry(limited)

    def _call(self, kind: str, request: Callable[[], T]) -> T:
        def attempt() -> T:
            if self.bucket is not None:
                self.bucket.acquire()
            self.stats.count_call(kind)
            metrics().count(CRM_API_CALLS, crm=self.crm, call=kind)
            try:
                return request()
            except RateLimited:  # counted here: the last 429 of a call that gives up is never retried
                metrics().count(CRM_RATE_LIMITED, crm=self.crm)
                raise

        return self._retrying(attempt)

    def call(self, kind: str, request: Callable[[], T]) -> T:
        """Any further request of the adapter (company reads and writes) behind this guard, counted as `kind`."""
        self.stats.calls.setdefault(kind, 0)
        return self._call(kind, request)

    def fetch(self, refs: Sequence[RecordRef]) -> FetchResult:
        return self._call("fetch", lambda: self.inner.fetch(refs))

    def write(self, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        return self._call("write", lambda: self.inner.write(writes))

    def page(self, object_type: str, cursor: str | None, limit: int) -> Page:
        return self._call("page", lambda: self.inner.page(object_type, cursor, limit))

    def count(self, object_type: str) -> int | None:
        return self._call("count", lambda: self.inner.count(object_type))

    def related(self, refs: Sequence[RecordRef]) -> dict[RecordRef, list[RecordRef]]:
        return self._call("related", lambda: self.inner.related(refs))

    def is_own_write(self, event: ChangeEvent) -> bool:
        return self.inner.is_own_write(event)

    def missing_outputs(self) -> list[str]:
        return self._call("missing_outputs", self.inner.missing_outputs)
