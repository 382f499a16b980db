"""AWS Lambda entry points: `http` (API Gateway -> the Flask app), `worker` (SQS batches), `sweep`.

Nothing is built at import time; each container builds what it needs once, on first use,
and keeps it (clients, the Flask app, secrets read from SSM Parameter Store).

Each handler imports what it uses, inside it: the HTTP handler only verifies and enqueues, so it
loads the routes and the queue, and no CRM client, SDK, pipeline or CLI module
(tests/webhooks/test_lambda_imports.py; `python -m bench startup` times its cold start).

It does not validate the mappings either: validating them (PyYAML, pydantic's import and its 19
mapping models, the rules checked against the mappings) was a third of its 0.4 s cold start, and
its routes read only the object types each CRM maps, which `mappings.mapped_objects` reads from
the file directly. The worker validates the whole configuration and refuses a bad one: a delivery
accepted meanwhile stays in the queue and, after the queue's `maxReceiveCount` failed receives, in
the dead-letter queue (`leadtherm dlq replay` once fixed); none is lost. For the same reason its
settings are checked with the declarations' own checks rather than through the pydantic settings
model (integration.composition.settings.checked_settings).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from integration.ports import ChangeEvent, QueueItem
from webhooks.metrics_emf import invocation

if TYPE_CHECKING:
    from integration.composition.runtime import Runtime
    from integration.ports import WorkQueue
    from integration.ports.inbound import InboundRoute
    from integration.service.pipeline import Pipeline

log = logging.getLogger("leadtherm.lambda")


@cache
def environment() -> Mapping[str, str]:
    """The declared settings, SSM-held secrets filled in (read once per container)."""
    from adapters.aws.secrets import resolve_secrets  # boto3 only where AWS is the platform
    from integration.composition.settings import checked_settings

    return checked_settings(resolve_secrets(dict(os.environ)))


@cache
def runtime() -> Runtime:
    """The worker's and the sweep's: CRM clients, the pipeline, the state store."""
    from integration.composition.runtime import build_runtime

    return build_runtime(environment())


def inbound(env: Mapping[str, str]) -> tuple[WorkQueue, list[InboundRoute]]:
    """What the HTTP handler needs: the queue and the configured CRMs' routes; no CRM client, no pipeline."""
    from integration.composition.plugins import crm_names, load_backend, load_crm
    from mappings.mapped_objects import mapped_objects

    plugins = {name: plugin for name in crm_names() if (plugin := load_crm(name)).configured(env)}
    if not plugins:
        from integration.composition.runtime import nothing_configured

        raise nothing_configured()
    # The folder as integration.composition.runtime.mappings_folder finds it (that module: the pipeline's).
    folder = env.get("LEADTHERM_MAPPINGS") or None
    queue, _ = load_backend(env.get("LEADTHERM_BACKEND", "sqlite")).open(env)
    return queue, [
        route for name, plugin in plugins.items() for route in plugin.routes(mapped_objects(name, folder), env)
    ]


@cache
def _http_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    from apig_wsgi import make_lambda_handler

    from webhooks.app import AppConfig, create_app
    from webhooks.forwarding import proxy_policy
    from webhooks.logs import bound_repeats

    env = environment()
    queue, routes = inbound(env)
    bound_repeats()  # the Lambda runtime's log handler: a flood of forged requests is counted, not copied
    # apig-wsgi takes scheme and host from API Gateway; a proxy or custom domain is configured as for serve
    app = create_app(AppConfig(queue, routes, proxy=proxy_policy(env)))
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = make_lambda_handler(app, binary_support=True)
    return handler


def http(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (payload v2) -> the same Flask app as `leadtherm serve`."""
    with invocation("http"):  # one EMF log line: CloudWatch metrics without a scraper
        return _http_handler()(event, context)


def batch_items(event: Mapping[str, Any]) -> tuple[list[QueueItem], list[str]]:
    """An SQS event's records as queue items, and the ids of records that are not events at all."""
    items, unreadable = [], []
    for record in event.get("Records", []):
        attributes = record.get("attributes") or {}
        try:
            change = ChangeEvent.from_json(json.loads(record["body"]))
        except (KeyError, TypeError, ValueError):
            # A poison message: report it failed; SQS redrives it to the DLQ after maxReceiveCount.
            log.error("unreadable SQS message %s", record.get("messageId"))
            unreadable.append(str(record.get("messageId")))
            continue
        items.append(QueueItem(change, str(record["messageId"]), int(attributes.get("ApproximateReceiveCount", "1"))))
    return items, unreadable


def _budget(context: Any, pipeline: Pipeline) -> float | None:
    """Seconds this invocation may spend on CRM calls: what the Lambda has left, less the commit's margin."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None  # invoked outside Lambda (tests): the lease's budget
    return pipeline.settings.retry.pass_budget(float(remaining()) / 1000)


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process one SQS batch; report exactly the messages to retry (ReportBatchItemFailures)."""
    from adapters.aws.lambda_batch import LambdaBatchQueue
    from integration.service.pipeline import Pipeline

    rt = runtime()
    items, unreadable = batch_items(event)
    handles = {str(r["messageId"]): str(r["receiptHandle"]) for r in event.get("Records", [])}
    batch = LambdaBatchQueue(rt.queue, handles)
    shared = rt.pipeline
    pipeline = Pipeline(
        shared.crms, shared.rules, batch, shared.state, shared.settings, shared.clock, shared.pauses, shared.scores
    )
    with invocation("worker"):
        pipeline.process(items, budget=_budget(context, shared))
    return {"batchItemFailures": [{"itemIdentifier": i} for i in [*unreadable, *batch.failed]]}


def sweep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled: queue the records whose temperature is due to drop; the worker does the rest."""
    from integration.service.sweep import enqueue_due

    rt = runtime()
    due = enqueue_due(rt.state, rt.queue, datetime.now(UTC))
    log.info("sweep queued %d record(s)", len(due))
    return {"queued": len(due)}
