"""The retry policy, declared once: inside a call (tenacity) and across leases (the queue), sized together.

A CRM request is tried `call_attempts` times within one pass, sleeping at most
`max_call_wait` between tries; a longer wait (a long Retry-After, a daily limit) goes back
to the queue instead of holding the lease. An event is leased at most `queue_attempts`
times (on AWS this is SQS's maxReceiveCount, so the pipeline dead-letters with its reason
before SQS redrives without one). The pipeline starts a CRM call only while the call's worst
case still fits in the pass budget, so no pass outlives its lease or its Lambda.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from integration.errors import CrmWideError, RetriableCrmError, RetryBudgetError

SAFETY_MARGIN = 2.0  # seconds kept free at the end of a lease for the local commit


@dataclass(frozen=True)
class RetryPolicy:
    """Every retry number of leadtherm; `check_fits` proves the worst case fits its budgets."""

    call_attempts: int = 3  # tries of one CRM request within a pass
    max_call_wait: float = 4.0  # longest sleep between them
    request_timeout: float = 10.0  # seconds one CRM request may take (connect + read)
    queue_attempts: int = 5  # leases before an event is dead-lettered (SQS maxReceiveCount)
    queue_delay: float = 2.0  # first delay before a lease comes back; doubles per attempt
    max_queue_delay: float = 600.0
    probe_every: float = 15.0  # a paused CRM is tried again this often
    reconnect_delay: float = 0.5  # a dropped change stream (an intake) is first opened again after this
    max_reconnect_delay: float = 60.0

    def call_worst_case(self) -> float:
        """The longest one guarded CRM call can take, every try timing out and every wait at its longest."""
        return self.call_attempts * self.request_timeout + (self.call_attempts - 1) * (self.max_call_wait + 0.1)

    def queue_backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds before a failed event is leased again, after `attempts` leases."""
        backoff = self.queue_delay * 2.0 ** max(0, attempts - 1)
        return float(min(self.max_queue_delay, max(backoff, retry_after or 0.0)))

    def reconnect_backoff(self, failures: int) -> float:
        """Seconds before an intake's stream is opened again after `failures` in a row: doubling, jittered."""
        backoff = min(self.max_reconnect_delay, self.reconnect_delay * 2.0 ** max(0, failures - 1))
        return backoff * random.uniform(0.8, 1.2)

    def pass_budget(self, lease_seconds: float) -> float:
        """Seconds a pass may spend on CRM calls inside a lease (or a Lambda) of `lease_seconds`."""
        return lease_seconds - SAFETY_MARGIN

    def check_fits(self, lease_seconds: float, what: str) -> None:
        """RetryBudgetError unless at least one worst-case CRM call fits in the pass budget of `what`."""
        if self.call_worst_case() > self.pass_budget(lease_seconds):
            raise RetryBudgetError(
                f"a {what} of {lease_seconds:g} s cannot hold one CRM call's worst case "
                f"({self.call_worst_case():g} s: {self.call_attempts} tries of {self.request_timeout:g} s and waits "
                f"of up to {self.max_call_wait:g} s) plus {SAFETY_MARGIN:g} s to commit; use at least "
                f"{self.call_worst_case() + SAFETY_MARGIN:.0f} s"
            )


POLICY = RetryPolicy()


class wait_retry_after_or_backoff(wait_base):
    """Honour the CRM's Retry-After when it gives one; else exponential backoff with full jitter; never over `cap`."""

    def __init__(self, initial: float = 0.5, cap: float = POLICY.max_call_wait) -> None:
        self.initial = initial
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetriableCrmError) and error.retry_after is not None:
            # A little jitter so that many workers do not return in the same instant.
            return min(error.retry_after, self.cap) + random.uniform(0, 0.1)
        ceiling = min(self.cap, self.initial * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)


def _worth_retrying_now(policy: RetryPolicy) -> Callable[[BaseException], bool]:
    def decide(error: BaseException) -> bool:
        if not isinstance(error, RetriableCrmError) or isinstance(error, CrmWideError):
            return False
        # A wait longer than a pass should hold its lease for goes back to the queue instead.
        return error.retry_after is None or error.retry_after <= policy.max_call_wait

    return decide


def retry_on_rate_limit(
    attempts: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    before_sleep: Callable[[RetryCallState], None] | None = None,
    policy: RetryPolicy = POLICY,
) -> Retrying:
    """429s, 5xx, timeouts and malformed answers (RetriableCrmError) retried; anything else raised at once."""
    return Retrying(
        retry=retry_if_exception(_worth_retrying_now(policy)),
        wait=wait_retry_after_or_backoff(cap=policy.max_call_wait),
        stop=stop_after_attempt(attempts or policy.call_attempts),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
