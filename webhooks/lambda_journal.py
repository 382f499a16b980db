"""AWS Lambda, scheduled: drain HubSpot's webhooks journal from the stored offset into SQS.

Each invocation reads entries after the offset kept in DynamoDB, queues their events, stores
the offset after each queued entry, and returns once caught up (the journal has nothing after
the offset) or the invocation's time budget is nearly spent. HubSpot keeps entries 3 days, so
a missed run loses nothing; reservedConcurrency 1 keeps one writer per offset. The SQS worker
does the rest, as for webhooks.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from typing import Any

from adapters.hubspot.journal.intake import JournalIntake, journal_intakes
from integration.errors import MissingSetting
from webhooks.lambda_handlers import environment, runtime

log = logging.getLogger("leadtherm.lambda.journal")

# Seconds kept back from the budget: one journal read, one download and the offset write.
SAFETY_MARGIN = 5.0
DEFAULT_BUDGET = 60.0


@cache
def intake() -> JournalIntake:
    """One per container: its token and HTTP sessions survive between invocations."""
    env = {**environment(), "HUBSPOT_JOURNAL": "1"}  # this function exists to read the journal
    found = [i for i in journal_intakes(runtime(), env) if isinstance(i, JournalIntake)]
    if not found:
        raise MissingSetting("HUBSPOT_JOURNAL", "the journal function needs HubSpot's journal configured")
    return found[0]


def _budget(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    seconds = remaining() / 1000 if callable(remaining) else DEFAULT_BUDGET
    return max(1.0, float(seconds) - SAFETY_MARGIN)


def drain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Queue every journal entry after the stored offset, within this invocation's time budget."""
    active = intake()
    before = active.stats.queued
    started = time.monotonic()
    entries = active.drain(threading.Event(), until=started + _budget(context), until_idle=True)
    queued = active.stats.queued - before
    log.info("journal drain: %d entries, %d events queued in %.1f s", entries, queued, time.monotonic() - started)
    problem = active.health()
    return {
        "entries": entries,
        "queued": queued,
        "seconds": round(time.monotonic() - started, 1),
        "lag_seconds": active.stats.lag_seconds,
        "health": problem or "ok",
    }
