"""The webhook app: `create_app(config)`, no I/O at import time, errors rendered in one place."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from integration.errors import LeadthermError
from integration.inbound import InboundRequest, InboundRoute
from integration.ports import ChangeEvent, WorkQueue

log = logging.getLogger("leadtherm.webhooks")
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class AppConfig:
    queue: WorkQueue
    routes: Sequence[InboundRoute]
    max_body_bytes: int = MAX_BODY_BYTES
    # Behind API Gateway or a reverse proxy, rebuild the public URL (HubSpot signs the URL it called).
    behind_proxy: bool = True


class QueueUnavailable(LeadthermError):
    """The queue could not persist events: answer 503 so the CRM delivers them again."""


def _health(queue: WorkQueue) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        stats = queue.stats()
        return jsonify(
            status="ok",
            queue_depth=stats.depth,
            oldest_pending_age_seconds=stats.oldest_age_seconds,
            dead_letters=stats.dead_letters,
        )

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
        return Response(answer.body, status=answer.status, content_type=answer.content_type)

    for index, route in enumerate(routes):
        bp.add_url_rule(route.path, f"route_{index}", lambda route=route: make_view(route), methods=["POST"])
    return bp


def create_app(config: AppConfig) -> Flask:
    app = Flask("leadtherm")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    if config.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1, x_port=1, x_prefix=1)  # type: ignore[method-assign]
    app.register_blueprint(_health(config.queue))
    app.register_blueprint(_webhooks(config.routes, config.queue))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        reason = "body larger than 1 MiB" if exc.code == 413 else (exc.description or exc.name)
        return jsonify(error=exc.name, reason=reason), exc.code or 500

    @app.errorhandler(QueueUnavailable)
    def queue_down(exc: QueueUnavailable) -> tuple[Response, int]:
        log.error("queue unavailable: %s", exc)
        return jsonify(error="Service Unavailable", reason="events could not be queued; retry"), 503

    return app
