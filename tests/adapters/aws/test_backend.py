"""The SQS and DynamoDB backends pass the same contract as SQLite, against moto's server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from adapters.aws.dynamodb_state import DynamoStateStore
from adapters.aws.secrets import resolve_secrets
from adapters.aws.sqs_queue import SqsWorkQueue
from integration.errors import MissingSetting
from integration.ports import AuditEntry, Settlement
from integration.service.pause import RecordedPauses
from tests.adapters.aws.conftest import Aws
from tests.contracts.backend_contract import Backend, BackendContract, event, ref, stored


class Sleep:
    """SQS visibility and real time cannot be faked: this backend's clock is the wall clock."""

    def advance(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture
def backend(aws: Aws) -> Backend:
    return SqsWorkQueue(aws.sqs, aws.queue_url, aws.dlq_url), DynamoStateStore(aws.dynamodb, aws.table), Sleep()


class TestAwsBackend(BackendContract):
    pass


def test_a_table_of_the_version_that_kept_pauses_among_the_cursors_keeps_its_pauses(aws: Aws) -> None:
    record = json.dumps({"reason": "Salesforce refused the session", "since": "2026-12-01T09:30:00+00:00"})
    former = {"pk": {"S": "cursor#pause:salesforce"}, "sk": {"S": "cursor"}}
    aws.dynamodb.put_item(TableName=aws.table, Item={**former, "value": {"S": record}})  # as that version wrote it
    state = DynamoStateStore(aws.dynamodb, aws.table)
    seen = RecordedPauses(state, ["hubspot", "salesforce"]).paused()
    assert seen == {"salesforce": "Salesforce refused the session (since 2026-12-01T09:30:00+00:00)"}
    state.set_pause("salesforce", None)  # resumed by a worker of this version
    assert state.get_pause("salesforce") is None
    assert "Item" not in aws.dynamodb.get_item(TableName=aws.table, Key=former)


def test_a_poison_message_is_redriven_to_the_dlq_after_max_receives(aws: Aws) -> None:
    queue = SqsWorkQueue(aws.sqs, aws.queue_url, aws.dlq_url)
    queue.enqueue([event("poison", 1)])
    for _ in range(3):  # maxReceiveCount 3: received and never deleted
        assert queue.lease(10, 1)
        time.sleep(1.1)
    assert queue.lease(10, 1) == []
    [letter] = queue.dead_letters()
    assert letter.event.event_id == "poison"
    assert "maxReceiveCount" in letter.reason


def test_due_reads_only_the_sparse_index(aws: Aws) -> None:
    state = DynamoStateStore(aws.dynamodb, aws.table)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    state.save_many({ref(n): stored(drop=now - timedelta(minutes=1) if n % 10 == 0 else None) for n in range(60)})
    state.calls = 0
    assert sorted(r.record_id for r in state.due(now, 100)) == [str(n) for n in range(0, 60, 10)]
    assert state.calls == 1


def test_secrets_come_from_ssm_by_parameter_name(aws: Aws) -> None:
    aws.ssm.put_parameter(Name="/leadtherm/backend-test/HUBSPOT_ACCESS_TOKEN", Value="pat-123", Type="SecureString")
    env = resolve_secrets({"SSM_HUBSPOT_ACCESS_TOKEN": "/leadtherm/backend-test/HUBSPOT_ACCESS_TOKEN"}, aws.ssm)
    assert env["HUBSPOT_ACCESS_TOKEN"] == "pat-123"
    with pytest.raises(MissingSetting, match="HUBSPOT_CLIENT_SECRET"):
        resolve_secrets({"SSM_HUBSPOT_CLIENT_SECRET": "/leadtherm/test/missing"}, aws.ssm)


def test_replaying_a_settlement_after_a_crash_writes_its_audit_once(aws: Aws) -> None:
    state = DynamoStateStore(aws.dynamodb, aws.table)
    entry = AuditEntry(ref(1), datetime(2026, 11, 1, tzinfo=UTC), "write", {"score": (40, 62)}, ["Title (+25)"])
    queue = SqsWorkQueue(aws.sqs, aws.queue_url, aws.dlq_url)
    batch = Settlement(saved={ref(1): stored()}, audit=[entry])
    queue.settle(batch, state)
    queue.settle(batch, state)  # the pass died after its state, before the queue: the next one replays it
    assert state.audit(ref(1)) == [entry]
