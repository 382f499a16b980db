"""The scheduled journal function on AWS, locally: HubSpot sandbox -> drain handler -> SQS, offset in DynamoDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from adapters.hubspot.journal.intake import cursor_name
from adapters.hubspot.journal.subscriptions import wanted_subscriptions
from mappings.loader import load_mapping
from tests.adapters.aws.conftest import Aws, aws, aws_env, moto_endpoint  # noqa: F401 (fixtures)
from tests.adapters.hubspot.journal_world import CLIENT_ID, SECRET, TOKEN
from webhooks import lambda_handlers, lambda_intakes

CACHED = (lambda_handlers.environment, lambda_handlers.runtime, lambda_intakes.intakes)


@pytest.fixture
def deployed(aws: Aws, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:  # noqa: F811
    sandbox.journal.client_id, sandbox.journal.client_secret = CLIENT_ID, SECRET
    body = {**wanted_subscriptions(load_mapping("hubspot"), sandbox.portal_id)[0], "properties": ["jobtitle"]}
    with sandbox.journal.lock:  # as `setup hubspot` leaves it (its own test covers how)
        sandbox.journal.subscriptions[1] = {"id": 1, **body}
    aws.ssm.put_parameter(Name="/leadtherm/test/HUBSPOT_CLIENT_ID", Value=CLIENT_ID, Type="String", Overwrite=True)
    env = {
        "LEADTHERM_BACKEND": "aws", "LEADTHERM_QUEUE_URL": aws.queue_url, "LEADTHERM_DLQ_URL": aws.dlq_url,
        "LEADTHERM_TABLE": aws.table, "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_CLIENT_SECRET": SECRET,
        "SSM_HUBSPOT_CLIENT_ID": "/leadtherm/test/HUBSPOT_CLIENT_ID", "HUBSPOT_PORTAL_ID": str(sandbox.portal_id),
        "HUBSPOT_API_BASE": sandbox.base_url, "HUBSPOT_RATE_LIMIT": "10000/10",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUBSPOT_JOURNAL", "1")  # as serverless.yml sets it on the journal function
    for variable in ("SALESFORCE_INSTANCE_URL", "SALESFORCE_USERNAME", "SALESFORCE_ACCESS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    for cached in CACHED:
        cached.cache_clear()
    yield
    for cached in CACHED:
        cached.cache_clear()


def _context(seconds: float) -> SimpleNamespace:
    deadline = time.monotonic() + seconds
    return SimpleNamespace(get_remaining_time_in_millis=lambda: int((deadline - time.monotonic()) * 1000))


def test_the_scheduled_function_queues_the_entries_after_the_stored_offset_within_its_budget(
    aws: Aws,  # noqa: F811
    sandbox: HubSpotSandbox,
    deployed: None,
) -> None:
    sandbox.create_contact({"jobtitle": "CEO"})
    assert lambda_intakes.drain({}, _context(15))["queued"] == {
        "hubspot-journal": 1
    }  # first run: the latest entry, then its offset
    state = lambda_handlers.runtime().state
    stored = state.get_cursor(cursor_name(sandbox.portal_id))
    assert stored is not None
    contacts = [sandbox.create_contact({"jobtitle": "CTO"}) for _ in range(20)]
    for contact in contacts[:10]:
        sandbox.update_contact(contact, {"jobtitle": "VP Sales"})
    started = time.monotonic()
    answer = lambda_intakes.drain({}, _context(15))
    assert answer["queued"] == {"hubspot-journal": 20}  # 30 changes of 20 contacts, coalesced by record
    assert answer["health"] == "ok"
    assert time.monotonic() - started < 10  # it returned once caught up, not at the end of its budget
    assert state.get_cursor(cursor_name(sandbox.portal_id)) not in (None, stored)
    depth = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert int(depth["Attributes"]["ApproximateNumberOfMessages"]) >= 20
