"""The scheduled CDC function on AWS, locally: Pub/Sub sandbox -> drain handler -> SQS, replay id in DynamoDB."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from leadtherm_sandboxes.salesforce.pubsub_sandbox import PubSubSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from adapters.aws.resources import create_resources
from adapters.salesforce.pubsub.subscriber import cursor_name
from tests.adapters.aws.conftest import Aws
from webhooks import lambda_handlers, lambda_intakes

TOPIC = "/data/LeadChangeEvent"
CACHED = (lambda_handlers.environment, lambda_handlers.runtime, lambda_intakes.intakes)


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SalesforceSandbox, PubSubSandbox]]:
    sandbox = SalesforceSandbox()
    sandbox.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox.ca_bundle_path)
    pubsub = PubSubSandbox(sandbox, keepalive=0.2)
    pubsub.start()
    yield sandbox, pubsub
    pubsub.stop()
    sandbox.stop()


@pytest.fixture
def deployed(aws: Aws, org: tuple[SalesforceSandbox, PubSubSandbox], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    sandbox, pubsub = org
    made = create_resources(aws.sqs, aws.dynamodb, f"lt-cdc-{int(time.time() * 1000)}", max_receives=3, visibility=1)
    aws.ssm.put_parameter(Name="/leadtherm/test/SALESFORCE_PASSWORD", Value=sandbox.password, Type="SecureString",
                          Overwrite=True)  # fmt: skip
    env = {
        "LEADTHERM_BACKEND": "aws", "LEADTHERM_QUEUE_URL": made["queue_url"], "LEADTHERM_DLQ_URL": made["dlq_url"],
        "LEADTHERM_TABLE": made["table"], "SALESFORCE_USERNAME": sandbox.username,
        "SSM_SALESFORCE_PASSWORD": "/leadtherm/test/SALESFORCE_PASSWORD",
        "SALESFORCE_SECURITY_TOKEN": sandbox.security_token, "SALESFORCE_DOMAIN": sandbox.login_domain,
        "SALESFORCE_PUBSUB_ENDPOINT": pubsub.target, "SALESFORCE_CDC_TOPICS": TOPIC, "SALESFORCE_CDC": "1",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    for cached in CACHED:
        cached.cache_clear()
    yield
    for intake in lambda_intakes.intakes():
        intake.listener.close()  # type: ignore[attr-defined]  # the Salesforce CDC intake
    for cached in CACHED:
        cached.cache_clear()


def _context(seconds: float) -> SimpleNamespace:
    deadline = time.monotonic() + seconds
    return SimpleNamespace(get_remaining_time_in_millis=lambda: int((deadline - time.monotonic()) * 1000))


def test_the_scheduled_function_queues_changes_since_the_stored_replay_id_within_its_budget(
    aws: Aws, org: tuple[SalesforceSandbox, PubSubSandbox], deployed: None
) -> None:
    sandbox, _ = org
    assert lambda_intakes.drain({}, _context(15))["queued"] == {TOPIC: 0}  # first run: LATEST, stores the tip
    state = lambda_handlers.runtime().state
    first = state.get_cursor(cursor_name(TOPIC))
    assert first is not None
    for n in range(20):
        sandbox.create_lead({"Email": f"p{n}@acme.example", "Title": "CEO", "LeadSource": "Web"})
    started = time.monotonic()
    answer = lambda_intakes.drain({}, _context(15))
    assert answer["queued"] == {TOPIC: 20}
    assert time.monotonic() - started < 10  # it returned once caught up, not at the end of its budget
    assert state.get_cursor(cursor_name(TOPIC)) not in (None, first)
    depth = aws.sqs.get_queue_attributes(QueueUrl=lambda_handlers.environment()["LEADTHERM_QUEUE_URL"],
                                         AttributeNames=["ApproximateNumberOfMessages"])  # fmt: skip
    assert int(depth["Attributes"]["ApproximateNumberOfMessages"]) >= 1
    assert lambda_intakes.drain({}, _context(15))["queued"] == {TOPIC: 0}  # nothing new: nothing queued twice


def test_a_run_that_outlives_its_budget_stops_in_time_and_the_next_one_resumes(
    org: tuple[SalesforceSandbox, PubSubSandbox], deployed: None
) -> None:
    sandbox, pubsub = org
    lambda_intakes.drain({}, _context(15))
    pubsub.keepalive = 30.0  # no keep-alive comes within the budget: only the deadline ends the run
    sandbox.create_lead({"Email": "late@acme.example"})
    started = time.monotonic()
    answer = lambda_intakes.drain({}, _context(SAFETY + 2))
    assert time.monotonic() - started < SAFETY + 4
    assert answer["queued"] == {TOPIC: 1}


def test_without_a_keep_alive_a_run_ends_once_no_event_came_for_a_while(
    org: tuple[SalesforceSandbox, PubSubSandbox], deployed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, pubsub = org
    lambda_intakes.drain({}, _context(15))
    pubsub.keepalive = 60.0  # as on Salesforce, where it may take 270 s
    monkeypatch.setattr(lambda_intakes, "IDLE_AFTER", 1.0)
    sandbox.create_lead({"Email": "late@acme.example"})
    started = time.monotonic()
    answer = lambda_intakes.drain({}, _context(30))
    assert time.monotonic() - started < 5
    assert answer["queued"] == {TOPIC: 1}


SAFETY = lambda_intakes.SAFETY_MARGIN
