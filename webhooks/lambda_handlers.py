"""AWS Lambda entry points: `http` (API Gateway -> the Flask app), `worker` (SQS batches), `sweep`.

Nothing is built at import time; each container builds what it needs once, on first use,
and keeps it (clients, the Flask app, secrets read from SSM Parameter Store).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from integration.pipeline import Pipeline
from integration.ports import ChangeEvent, QueueItem
from integration.runtime import Runtime, build_runtime
from integration.sweep import enqueue_due
from webhooks.app import AppConfig, create_app
from webhooks.serve import routes_of

log = logging.getLogger("leadtherm.lambda")


@cache
def environment() -> dict[str, str]:
    """The process environment with SSM-held secrets filled in (read once per container)."""
    from adapters.aws.secrets import resolve_secrets  # boto3 only where AWS is the platform

    return resolve_secrets(dict(os.environ))


@cache
def runtime() -> Runtime:
    return build_runtime(environment())


@cache
def _http_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    from apig_wsgi import make_lambda_handler

    rt = runtime()
    app = create_app(AppConfig(rt.queue, routes_of(rt, environment())))
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = make_lambda_handler(app, binary_support=True)
    return handler


def http(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (payload v2) -> the same Flask app as `leadtherm serve`."""
    return _http_handler()(event, context)


def batch_items(event: Mapping[str, Any]) -> list[QueueItem]:
    """An SQS event's records as queue items (receipt = messageId, attempts = receive count)."""
    items = []
    for record in event.get("Records", []):
        attributes = record.get("attributes") or {}
        items.append(
            QueueItem(
                event=ChangeEvent.from_json(_json(record["body"])),
                receipt=str(record["messageId"]),
                attempts=int(attributes.get("ApproximateReceiveCount", "1")),
            )
        )
    return items


def _json(body: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)
    return data


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process one SQS batch; report exactly the messages to retry (ReportBatchItemFailures)."""
    from adapters.aws.lambda_batch import LambdaBatchQueue

    rt = runtime()
    items = batch_items(event)
    handles = {i.receipt: r["receiptHandle"] for i, r in zip(items, event["Records"], strict=True)}
    batch = LambdaBatchQueue(rt.queue, handles)
    shared = rt.pipeline
    Pipeline(shared.crms, shared.rules, batch, shared.state, shared.settings, shared.clock).process(items)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in batch.failed]}


def sweep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: queue the records whose temperature is due to drop; the worker does the rest."""
    rt = runtime()
    due = enqueue_due(rt.state, rt.queue, datetime.now(UTC))
    log.info("sweep queued %d record(s)", len(due))
    return {"queued": len(due)}
