"""Retry policies, declared once and named; every CRM call goes through one of them."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base

from integration.errors import RetriableCrmError

MAX_SERVER_WAIT = 60.0  # never sleep longer than this on one Retry-After


class wait_retry_after_or_backoff(wait_base):
    """Honour the CRM's Retry-After when it gives one; else exponential backoff with full jitter."""

    def __init__(self, initial: float = 0.5, maximum: float = 20.0) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetriableCrmError) and error.retry_after is not None:
            # A little jitter so that many workers do not return in the same instant.
            return min(error.retry_after, MAX_SERVER_WAIT) + random.uniform(0, 0.1)
        ceiling = min(self.maximum, self.initial * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)


def retry_on_rate_limit(
    attempts: int = 6,
    sleep: Callable[[float], None] = time.sleep,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> Retrying:
    """429s, 5xx and timeouts (RetriableCrmError) retried; anything else raised at once."""
    return Retrying(
        retry=retry_if_exception_type(RetriableCrmError),
        wait=wait_retry_after_or_backoff(),
        stop=stop_after_attempt(attempts),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
