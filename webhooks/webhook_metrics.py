"""What the webhook app reports about each delivery: received, acknowledged or refused and why."""

from __future__ import annotations

from integration.ports.metric_names import (
    WEBHOOK_ACKNOWLEDGED,
    WEBHOOK_EVENTS_QUEUED,
    WEBHOOK_REJECTED,
    WEBHOOK_REQUESTS,
)
from integration.ports.metrics import metrics

# A bounded set of reasons: the route's own words may quote what the sender sent.
REJECTION_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


def rejection_reason(status: int) -> str:
    return REJECTION_REASONS.get(status, "server_error" if status >= 500 else "client_error")


def count_answer(route: str, status: int, events: int) -> None:
    """Count one delivery to `route` by the status it was answered with."""
    sink = metrics()
    sink.count(WEBHOOK_REQUESTS, route=route)
    if status < 300:
        sink.count(WEBHOOK_ACKNOWLEDGED, route=route)
        if events:
            sink.count(WEBHOOK_EVENTS_QUEUED, events, route=route)
    else:
        sink.count(WEBHOOK_REJECTED, route=route, reason=rejection_reason(status))
