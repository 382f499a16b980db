"""AWS Lambda, scheduled: drain the configured CRMs' change feeds (their intakes) into SQS.

Each invocation reads every drainable intake from its stored position (in DynamoDB), queues
what arrived, stores the new position after each queued batch, and returns when the feed has
caught up (or nothing came for IDLE_AFTER seconds) or the invocation's time budget is nearly
spent. The SQS worker does the rest, as for webhooks.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

from integration.composition.intakes import intakes_of
from integration.ports.intake import BackgroundIntake, DrainableIntake
from integration.ports.metric_names import INTAKE_LAG
from integration.ports.metrics import metrics
from webhooks.lambda_handlers import environment, runtime
from webhooks.metrics_emf import invocation

log = logging.getLogger("leadtherm.lambda.cdc")

# Seconds kept back from the budget: a cancelled stream, the last cursor write, the return.
SAFETY_MARGIN = 5.0
DEFAULT_BUDGET = 60.0
# A feed's keep-alive (the sign of being caught up) may take minutes: this long without an event ends the run.
IDLE_AFTER = 10.0


@cache
def intakes() -> list[BackgroundIntake]:
    """One set per container: their connections, sessions and caches survive between invocations."""
    return intakes_of(runtime(), environment())


def _budget(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    seconds = remaining() / 1000 if callable(remaining) else DEFAULT_BUDGET
    return max(1.0, float(seconds) - SAFETY_MARGIN)


def drain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Queue every change since the stored positions, within this invocation's time budget."""
    started = time.monotonic()
    until = started + _budget(context)
    queued: dict[str, int] = {}
    problems: list[str] = []
    with invocation("intakes"):  # one EMF line: the API calls made and how far behind each feed it ended
        for intake in intakes():
            if isinstance(intake, DrainableIntake):
                queued.update(intake.drain(until, IDLE_AFTER))
            if (lag := intake.lag_seconds()) is not None:
                metrics().gauge(INTAKE_LAG, lag, crm=intake.crm, intake=intake.name)
            if problem := intake.health():
                problems.append(problem)
    log.info("drain queued %s in %.1f s", queued, time.monotonic() - started)
    return {"queued": queued, "seconds": round(time.monotonic() - started, 1), "health": "; ".join(problems) or "ok"}
