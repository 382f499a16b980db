"""The client-side token bucket keeps any rolling window under the CRM's limit."""

from __future__ import annotations

import pytest

from integration.service.ratelimit import TokenBucket


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(("limit", "period"), [(100, 10.0), (190, 10.0), (5, 1.0)])
def test_no_rolling_window_ever_sees_more_than_the_limit(limit: int, period: float) -> None:
    clock = ManualClock()
    bucket = TokenBucket.for_window(limit, period)
    bucket._clock, bucket._sleep, bucket._updated = clock, clock.sleep, 0.0
    times = []
    for _ in range(limit * 5):
        bucket.acquire()
        times.append(clock.now)
    worst = max(sum(1 for t in times if start <= t < start + period) for start in times)
    assert worst <= limit


def test_a_long_run_uses_most_of_the_allowed_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket.for_window(100, 10.0)
    bucket._clock, bucket._sleep, bucket._updated = clock, clock.sleep, 0.0
    for _ in range(1000):
        bucket.acquire()
    assert clock.now <= 1000 / 10 * 1.15  # within 15% of the floor the limit allows


def test_draining_makes_the_next_request_wait() -> None:
    clock = ManualClock()
    bucket = TokenBucket(10, 1.0, clock=clock, sleep=clock.sleep)
    bucket.drain()
    assert bucket.acquire() > 0
