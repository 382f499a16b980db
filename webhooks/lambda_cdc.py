"""AWS Lambda, scheduled: drain Salesforce Change Data Capture from the stored replay id into SQS.

Each invocation subscribes from the replay id kept in DynamoDB, queues what arrived, stores
the new replay id after each queued batch, and returns when the stream has caught up (an
empty keep-alive answer, or no event for IDLE_AFTER seconds) or the invocation's time budget
is nearly spent. The SQS worker
does the rest, as for webhooks.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from typing import Any

from adapters.salesforce.pubsub.listener import Listener
from integration.ports.metric_names import INTAKE_LAG
from integration.ports.metrics import metrics
from webhooks.lambda_handlers import environment, runtime
from webhooks.metrics_emf import invocation

log = logging.getLogger("leadtherm.lambda.cdc")

# Seconds kept back from the budget: a cancelled stream, the last cursor write, the return.
SAFETY_MARGIN = 5.0
DEFAULT_BUDGET = 60.0
# Salesforce's keep-alive (the sign of being caught up) may take 270 s: this long without an event ends the run.
IDLE_AFTER = 10.0


@cache
def listener() -> Listener:
    """One per container: its gRPC channel, session and schema cache survive between invocations."""
    return Listener(runtime(), environment())


def _budget(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    seconds = remaining() / 1000 if callable(remaining) else DEFAULT_BUDGET
    return max(1.0, float(seconds) - SAFETY_MARGIN)


def drain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Queue every change since the stored replay id, within this invocation's time budget."""
    active = listener()
    before = {s.settings.topic: s.stats.queued for s in active.subscribers}
    started = time.monotonic()
    with invocation("cdc"):  # one EMF line: the API calls it made and how far behind the stream it ended
        active.run(threading.Event(), until=started + _budget(context), until_idle=True, idle_after=IDLE_AFTER)
        lags = [s.stats.lag_seconds for s in active.subscribers if s.stats.lag_seconds is not None]
        if lags:
            metrics().gauge(INTAKE_LAG, max(lags), crm="salesforce", intake="cdc")
    queued = {s.settings.topic: s.stats.queued - before[s.settings.topic] for s in active.subscribers}
    log.info("CDC drain queued %s in %.1f s", queued, time.monotonic() - started)
    problem = active.health()
    return {"queued": queued, "seconds": round(time.monotonic() - started, 1), "health": problem or "ok"}
