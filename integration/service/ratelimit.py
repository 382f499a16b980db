"""A client-side token bucket: stay under a CRM's rate limit rather than bounce off it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from integration.errors import InvalidSetting


def parse_rate_limit(text: str | None, default: tuple[int, float], variable: str) -> tuple[int, float]:
    """'190/10' -> (190, 10.0): requests per seconds; `default` when unset."""
    if not text:
        return default
    count, _, seconds = text.partition("/")
    try:
        parsed = (int(count), float(seconds or "1"))
    except ValueError:
        parsed = (0, 0.0)
    if parsed[0] < 1 or parsed[1] <= 0:
        raise InvalidSetting(variable, "requests/seconds, e.g. 190/10")
    return parsed


class TokenBucket:
    """Up to `capacity` requests at once, refilled at `capacity / period` per second; thread-safe."""

    def __init__(
        self,
        capacity: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity < 1 or period <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and period > 0")
        self.capacity = capacity
        self.period = period
        self._rate = capacity / period
        self._tokens = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    @classmethod
    def for_window(cls, limit: int, period: float) -> TokenBucket:
        """At most `limit` requests in ANY window of `period` seconds (a rolling limit).

        A bucket's worst window is its burst plus a period of refill, so the burst is kept
        to a tenth of the limit and the refill rate makes up the rest.
        """
        burst = max(1, limit // 10)
        bucket = cls(burst, period)
        bucket._rate = max(limit - burst, 1) / period
        return bucket

    def share(self, fraction: float) -> TokenBucket:
        """A new, separate bucket with `fraction` of this one's burst and refill rate (at least one token)."""
        if not 0 < fraction <= 1:
            raise ValueError("a share of a bucket is a fraction in (0, 1]")
        bucket = TokenBucket(max(1, int(self.capacity * fraction)), self.period, self._clock, self._sleep)
        bucket._rate = self._rate * fraction
        return bucket

    @property
    def rate(self) -> float:
        """Tokens per second, refilled."""
        return self._rate

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, waiting for it if need be; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                # Tolerate float rounding: a refill that lands at 0.999999 is a whole token.
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                shortfall = (1 - self._tokens) / self._rate
            self._sleep(shortfall)
            waited += shortfall

    def drain(self) -> None:
        """Empty the bucket: the CRM said we are over the limit, whatever we counted."""
        with self._lock:
            self._refill()
            self._tokens = 0.0
