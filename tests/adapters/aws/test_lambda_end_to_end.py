"""On AWS, locally: API Gateway event -> http handler -> SQS -> worker handler -> HubSpot, on moto's server.

A bridge loop hands SQS messages to the worker the way Lambda's event source mapping does:
it deletes what the handler did not report as failed and leaves the rest to reappear.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until as wait_for

from adapters.aws.resources import create_resources
from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.field_setup import setup
from harness.packaged_copy import copy_packaged
from integration.errors import ConfigError
from mappings.grammar import SCORING_FILE
from mappings.loader import load_mapping
from tests.adapters.aws.conftest import Aws
from webhooks import lambda_handlers

TOKEN, SECRET = "aws-token", "aws-client-secret"
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    portal = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    portal.start()
    mapping = load_mapping("hubspot")
    setup(HubSpotClient(mapping, TOKEN, portal.base_url).api, mapping)
    yield portal
    portal.stop()


@pytest.fixture
def deployed(aws: Aws, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The functions' environment as serverless.yml sets it, secrets in SSM, caches cleared."""
    made = create_resources(aws.sqs, aws.dynamodb, f"lt-e2e-{int(time.time() * 1000)}", max_receives=3, visibility=1)
    aws.ssm.put_parameter(Name="/leadtherm/test/HUBSPOT_ACCESS_TOKEN", Value=TOKEN, Type="SecureString", Overwrite=True)
    aws.ssm.put_parameter(
        Name="/leadtherm/test/HUBSPOT_CLIENT_SECRET", Value=SECRET, Type="SecureString", Overwrite=True
    )
    env = {
        "LEADTHERM_BACKEND": "aws",
        "LEADTHERM_QUEUE_URL": made["queue_url"],
        "LEADTHERM_DLQ_URL": made["dlq_url"],
        "LEADTHERM_TABLE": made["table"],
        "HUBSPOT_API_BASE": sandbox.base_url,
        "HUBSPOT_RATE_LIMIT": "10000/10",
        "SSM_HUBSPOT_ACCESS_TOKEN": "/leadtherm/test/HUBSPOT_ACCESS_TOKEN",
        "SSM_HUBSPOT_CLIENT_SECRET": "/leadtherm/test/HUBSPOT_CLIENT_SECRET",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for cached in (lambda_handlers.environment, lambda_handlers.runtime, lambda_handlers._http_handler):
        cached.cache_clear()
    yield made
    for cached in (lambda_handlers.environment, lambda_handlers.runtime, lambda_handlers._http_handler):
        cached.cache_clear()


def api_gateway_event(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as AWS documents it."""
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/hubspot",
        "rawPath": "/webhooks/hubspot",
        "rawQueryString": "",
        "headers": {
            **{k.lower(): v for k, v in headers.items()},
            "host": DOMAIN,
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "content-length": str(len(body)),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": DOMAIN,
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": "/webhooks/hubspot",
                "protocol": "HTTP/1.1",
                "sourceIp": "54.174.1.1",
                "userAgent": "HubSpot Connect 2.0",
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": "POST /webhooks/hubspot",
            "stage": "$default",
            "time": "24/Nov/2026:19:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def signed_webhook(sandbox: HubSpotSandbox, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps(events).encode()
    sandbox.client_secret = SECRET
    return api_gateway_event(body, sandbox.signed_request(f"https://{DOMAIN}/webhooks/hubspot", body))


def hubspot_event(event_id: int, contact_id: str) -> dict[str, Any]:
    return {"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 1160452,
            "occurredAt": int(time.time() * 1000), "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
            "objectId": int(contact_id), "propertyName": "jobtitle", "propertyValue": "CEO", "changeSource": "CRM_UI",
            "sourceId": "userId:1"}  # fmt: skip


def bridge(aws: Aws, queue_url: str, rounds: int = 10) -> int:
    """Deliver SQS batches to the worker like the event source mapping; returns batches handled."""
    handled = 0
    for _ in range(rounds):
        answer = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=1,
                                         AttributeNames=["All"], WaitTimeSeconds=0)  # fmt: skip
        messages = answer.get("Messages") or []
        if not messages:
            time.sleep(1.1)  # failed ones reappear after their visibility timeout
            continue
        records = [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs"}
            for m in messages
        ]  # fmt: skip
        result = lambda_handlers.worker({"Records": records}, None)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        handled += 1
    return handled


def test_a_signed_webhook_through_api_gateway_and_sqs_ends_written_in_hubspot(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str]
) -> None:
    contact = sandbox.create_contact({"email": "cto@nordlys.example", "jobtitle": "CEO", "numemployees": "100-500"})
    answer = lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(1, contact)]), None)
    assert answer["statusCode"] == 204
    bridge(aws, deployed["queue_url"], rounds=3)
    assert sandbox.contact(contact).get("leadtherm_temperature") in {"cold", "cool", "warm", "hot"}
    assert sandbox.contact(contact).get("leadtherm_stage") == "lead"


def test_a_bad_signature_through_api_gateway_is_refused(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str]
) -> None:
    event = signed_webhook(sandbox, [hubspot_event(1, "1001")])
    event["body"] = event["body"].replace("CEO", "CFO")
    assert lambda_handlers.http(event, None)["statusCode"] == 401


def test_the_same_event_delivered_twice_is_processed_once(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str]
) -> None:
    contact = sandbox.create_contact({"email": "cto@nordlys.example", "jobtitle": "CEO"})
    for _ in range(2):  # HubSpot redelivers, e.g. after a timeout
        assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(7, contact)]), None)["statusCode"] == 204
    bridge(aws, deployed["queue_url"], rounds=3)
    assert [c for c, _ in sandbox.writes] == [contact]
    assert lambda_handlers.runtime().clients["hubspot"].stats.calls["fetch"] == 1


def test_a_delivery_taken_while_the_rules_are_broken_waits_in_the_queue_until_they_are_fixed(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = copy_packaged(tmp_path / "rules")
    scoring = folder / SCORING_FILE
    good = scoring.read_text(encoding="utf-8")
    scoring.write_text(good + "\nbogus_section: {}\n", encoding="utf-8")
    monkeypatch.setenv("LEADTHERM_MAPPINGS", str(folder))
    contact = sandbox.create_contact({"email": "cto@nordlys.example", "jobtitle": "CEO"})
    # The HTTP handler reads only the object types its routes accept: it takes the delivery.
    assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(21, contact)]), None)["statusCode"] == 204
    # The worker validates the whole configuration: the invocation fails and SQS keeps the message.
    with pytest.raises(ConfigError, match="bogus_section"):
        bridge(aws, deployed["queue_url"], rounds=1)
    scoring.write_text(good, encoding="utf-8")  # fixed (a deployment: the next container loads it)
    time.sleep(1.1)  # the failed receive's visibility timeout
    bridge(aws, deployed["queue_url"], rounds=3)
    assert sandbox.contact(contact).get("leadtherm_temperature") in {"cold", "cool", "warm", "hot"}


def test_a_poison_message_reaches_the_dlq_after_max_receives(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str]
) -> None:
    aws.sqs.send_message(QueueUrl=deployed["queue_url"], MessageBody="this is not an event")
    bridge(aws, deployed["queue_url"], rounds=10)
    assert wait_for(
        lambda: bool(aws.sqs.receive_message(QueueUrl=deployed["dlq_url"], VisibilityTimeout=0).get("Messages")), 5
    )
    assert not aws.sqs.receive_message(QueueUrl=deployed["queue_url"]).get("Messages")


def _dead_letters(aws: Aws, dlq_url: str) -> list[dict[str, Any]]:
    answer = aws.sqs.receive_message(
        QueueUrl=dlq_url, VisibilityTimeout=0, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return list(answer.get("Messages") or [])


def test_a_record_that_cannot_be_read_reaches_the_dlq_with_a_reason_naming_the_field_not_the_value(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str]
) -> None:
    contact = sandbox.create_contact({"email": "cto@nordlys.example", "hs_analytics_num_page_views": "1e400"})
    assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(3, contact)]), None)["statusCode"] == 204
    bridge(aws, deployed["queue_url"], rounds=2)
    [letter] = _dead_letters(aws, deployed["dlq_url"])
    reason = letter["MessageAttributes"]["reason"]["StringValue"]
    assert "hs_analytics_num_page_views" in reason and "1e400" not in reason


def test_retries_that_never_succeed_are_dead_lettered_by_the_pipeline_with_their_reason_before_sqs_redrives(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADTHERM_MAX_RECEIVES", "3")  # as serverless.yml sets it: the queue's maxReceiveCount
    contact = sandbox.create_contact({"email": "cto@nordlys.example", "jobtitle": "CEO"})
    assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(5, contact)]), None)["statusCode"] == 204
    sandbox.fail_next(502, times=1000)
    bridge(aws, deployed["queue_url"], rounds=12)
    [letter] = _dead_letters(aws, deployed["dlq_url"])
    assert "gave up after 3 attempts" in letter["MessageAttributes"]["reason"]["StringValue"]


def test_a_revoked_token_pauses_hubspot_and_its_messages_wait_in_the_queue_not_the_dlq(
    aws: Aws, sandbox: HubSpotSandbox, deployed: dict[str, str]
) -> None:
    contact = sandbox.create_contact({"email": "cto@nordlys.example", "jobtitle": "CEO"})
    assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(9, contact)]), None)["statusCode"] == 204
    pipeline = lambda_handlers.runtime().pipeline
    pipeline.pauses.probe_every = 1.0  # the container probes HubSpot again after a second
    sandbox.expire_token(TOKEN)
    bridge(aws, deployed["queue_url"], rounds=4)  # many receives while HubSpot refuses the token
    assert "hubspot paused" in str(pipeline.health())
    assert _dead_letters(aws, deployed["dlq_url"]) == []
    assert sandbox.contact(contact).get("leadtherm_temperature") is None
    sandbox.expired_tokens.discard(TOKEN)
    time.sleep(1.1)
    bridge(aws, deployed["queue_url"], rounds=4)
    assert sandbox.contact(contact).get("leadtherm_temperature") in {"cold", "cool", "warm", "hot"}
    assert pipeline.health() is None
