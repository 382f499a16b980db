"""The webhook app: `create_app(config)`, no I/O at import time, errors rendered in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from integration.errors import LeadthermError
from integration.ports import ChangeEvent, QueueStats, WorkQueue
from integration.ports.inbound import InboundRequest, InboundRoute
from webhooks.forwarding import TRUST_NOTHING, ForwardingMiddleware, ProxyPolicy
from webhooks.webhook_metrics import count_answer

log = logging.getLogger("leadtherm.webhooks")
MAX_BODY_BYTES = 1024 * 1024

# A health check returns why something is degraded, or None when it is fine.
HealthCheck = Callable[[], str | None]


@dataclass(frozen=True)
class AppConfig:
    queue: WorkQueue
    routes: Sequence[InboundRoute]
    max_body_bytes: int = MAX_BODY_BYTES
    # Who may say what the public URL is (HubSpot signs the URL it called); by default nobody.
    proxy: ProxyPolicy = TRUST_NOTHING
    # Each named reason makes /healthz answer 503 (a worker down, a CRM paused, ...).
    health_checks: Sequence[HealthCheck] = ()
    # /healthz is degraded while the oldest pending event has waited longer (seconds; None: never).
    max_event_age: float | None = None


class QueueUnavailable(LeadthermError):
    """The queue could not persist events: answer 503 so the CRM delivers them again."""


def degraded_reasons(stats: QueueStats, checks: Sequence[HealthCheck], max_event_age: float | None) -> list[str]:
    """Every reason the service is degraded right now; empty when healthy."""
    reasons = []
    for check in checks:
        try:
            reason = check()
        except LeadthermError as exc:
            reason = f"a health check failed: {exc}"
        if reason:
            reasons.append(reason)
    age = stats.oldest_age_seconds
    if max_event_age is not None and age is not None and age > max_event_age:
        reasons.append(
            f"the oldest pending event has waited {age:.0f} s, longer than {max_event_age:.0f} s "
            "(LEADTHERM_MAX_EVENT_AGE)"
        )
    return reasons


def _health(config: AppConfig) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            stats = config.queue.stats()
        except LeadthermError as exc:
            log.error("health: the queue cannot be read: %s", exc)
            return jsonify(status="degraded", reasons=[f"the queue cannot be read: {exc}"]), 503
        reasons = degraded_reasons(stats, config.health_checks, config.max_event_age)
        body = jsonify(
            status="degraded" if reasons else "ok",
            reasons=reasons,
            queue_depth=stats.depth,
            oldest_pending_age_seconds=stats.oldest_age_seconds,
            dead_letters=stats.dead_letters,
        )
        return body, 503 if reasons else 200

    return bp


def _webhooks(routes: Sequence[InboundRoute], queue: WorkQueue) -> Blueprint:
    bp = Blueprint("webhooks", __name__)

    def enqueue(events: Sequence[ChangeEvent]) -> None:
        try:
            queue.enqueue(events)
        except LeadthermError as exc:
            raise QueueUnavailable(str(exc)) from exc

    def make_view(route: InboundRoute) -> Response:
        inbound = InboundRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            body=request.get_data(cache=False),
        )
        answer = route.handle(inbound, enqueue)
        g.events_queued = answer.events
        return Response(answer.body, status=answer.status, content_type=answer.content_type)

    for index, route in enumerate(routes):
        bp.add_url_rule(route.path, f"route_{index}", lambda route=route: make_view(route), methods=["POST"])

    @bp.after_request  # after the error handlers too: a refused body (413) or a queue down (503) counts
    def measure(response: Response) -> Response:
        count_answer(request.url_rule.rule if request.url_rule else "", response.status_code, g.get("events_queued", 0))
        return response

    return bp


def create_app(config: AppConfig) -> Flask:
    # No static route: Flask's default `/static/<path>` would serve the working directory's static/ folder.
    app = Flask("leadtherm", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.wsgi_app = ForwardingMiddleware(app.wsgi_app, config.proxy)  # type: ignore[method-assign]
    app.register_blueprint(_health(config))
    app.register_blueprint(_webhooks(config.routes, config.queue))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        too_large = f"body larger than {config.max_body_bytes / (1024 * 1024):g} MiB, the most accepted here"
        reason = too_large if exc.code == 413 else (exc.description or exc.name)
        return jsonify(error=exc.name, reason=reason), exc.code or 500

    @app.errorhandler(QueueUnavailable)
    def queue_down(exc: QueueUnavailable) -> tuple[Response, int]:
        log.error("queue unavailable: %s", exc)
        return jsonify(error="Service Unavailable", reason="events could not be queued; retry"), 503

    return app
