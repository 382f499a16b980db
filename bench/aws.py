"""The worker on AWS (SQS + DynamoDB on moto's server) against the SQLite backend, same events."""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from adapters.aws.dynamodb_state import DynamoStateStore
from adapters.aws.resources import create_resources
from adapters.aws.sqs_queue import SqsWorkQueue
from integration.domain.normalize import Normalizer
from integration.ports import ChangeEvent, StateStore, WorkQueue
from integration.service.pipeline import CrmBinding, Pipeline, PipelineSettings
from integration.service.worker import drain
from mappings.loader import load_mapping, load_rules
from tests.fakes import FakeCrm
from tests.pipeline_world import Clock, hubspot_contact

EVENTS, RECORDS = 2_000, 500


class CountingState:
    """Counts the state store's calls, for a per-event figure on both backends."""

    def __init__(self, inner: StateStore) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str) -> object:
        self.calls += 1
        return getattr(self.inner, name)


def _run(queue: WorkQueue, state: StateStore) -> tuple[float, int]:
    mapping = load_mapping("hubspot")
    crm = FakeCrm(crm="hubspot", own_fields=mapping.own_fields)
    clock = Clock()
    refs = [crm.add(hubspot_contact(str(n), clock), record_id=str(n)) for n in range(1, RECORDS + 1)]
    rng = random.Random(4)
    queue.enqueue(
        [ChangeEvent(f"e{i}-{time.time()}", rng.choice(refs), changed_fields=("jobtitle",)) for i in range(EVENTS)]
    )
    pipeline = Pipeline(
        {"hubspot": CrmBinding(crm, Normalizer(mapping))}, load_rules(), queue, state, PipelineSettings(lease_size=100)
    )
    started = time.perf_counter()
    report = drain(pipeline)
    return report.records / (time.perf_counter() - started), report.events


def run() -> str:
    from adapters.sqlite import Database, SqliteStateStore, SqliteWorkQueue

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    endpoint = f"http://{host}:{port}"
    sqs, dynamodb = boto3.client("sqs", endpoint_url=endpoint), boto3.client("dynamodb", endpoint_url=endpoint)
    made = create_resources(sqs, dynamodb, "lt-bench")
    dynamo = DynamoStateStore(dynamodb, made["table"])
    aws_rate, aws_events = _run(SqsWorkQueue(sqs, made["queue_url"], made["dlq_url"]), dynamo)
    server.stop()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "leadtherm.db")
        sqlite_state = CountingState(SqliteStateStore(db))
        sqlite_rate, sqlite_events = _run(SqliteWorkQueue(db), sqlite_state)  # type: ignore[arg-type]
    return f"""## AWS worker (SQS + DynamoDB on moto's server, real boto3) against SQLite

{EVENTS:,} events over {RECORDS} records through the pipeline and the in-memory fake CRM.

| backend | records/s | state-store calls per processed event |
|---|---|---|
| SQS + DynamoDB (moto, HTTP on 127.0.0.1) | {aws_rate:,.0f} | {dynamo.calls / aws_events:.2f} DynamoDB requests |
| SQLite (embedded) | {sqlite_rate:,.0f} | {sqlite_state.calls / sqlite_events:.2f} method calls (no network) |

SQS does not coalesce by record, so each received batch of up to 100 messages is coalesced on its own;
DynamoDB requests are batched (BatchGetItem of 100, BatchWriteItem of 25).
"""
