"""The Lambda handlers report CloudWatch metrics as Embedded Metric Format lines on stdout.

Through the real handlers on moto's server and the HubSpot sandbox: API Gateway event ->
http handler (one EMF line) -> SQS -> worker handler (EMF lines with the CRM as a dimension).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

from tests.adapters.aws.conftest import Aws
from tests.adapters.aws.test_lambda_end_to_end import (  # noqa: F401 - sandbox and deployed are fixtures
    bridge,
    deployed,
    hubspot_event,
    sandbox,
    signed_webhook,
)
from webhooks import lambda_handlers


def emf_documents(output: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines a handler wrote to stdout."""
    documents = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [d for d in documents if "_aws" in d]


def check_shape(document: dict[str, Any]) -> None:
    """What CloudWatch requires of an EMF document: every metric and dimension it names is a root member."""
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    assert metadata["CloudWatchMetrics"]
    for directive in metadata["CloudWatchMetrics"]:
        assert directive["Namespace"] == "leadtherm"
        for dimension_set in directive["Dimensions"]:
            assert "function" in dimension_set
            assert all(isinstance(document[name], str) for name in dimension_set)
        for metric in directive["Metrics"]:
            assert metric["Unit"] in {"Count", "Seconds", "None"}
            held = document[metric["Name"]]
            assert isinstance(held, int | float) or all(isinstance(v, int | float) for v in held)


def test_a_signed_webhook_through_api_gateway_writes_one_emf_line_counting_it_acknowledged(
    aws: Aws,
    sandbox: HubSpotSandbox,  # noqa: F811
    deployed: dict[str, str],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    contact = sandbox.create_contact({"jobtitle": "CEO", "numemployees": "100-500"})
    capsys.readouterr()
    assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(11, contact)]), None)["statusCode"] == 204
    [document] = emf_documents(capsys.readouterr().out)
    check_shape(document)
    assert document["function"] == "http"
    assert document["route"] == "/webhooks/hubspot"
    assert document["webhook_requests"] == 1
    assert document["webhook_acknowledged"] == 1
    assert document["webhook_events_queued"] == 1


def test_a_forged_webhook_is_counted_rejected_with_its_reason_as_a_dimension(
    aws: Aws,
    sandbox: HubSpotSandbox,  # noqa: F811
    deployed: dict[str, str],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    event = signed_webhook(sandbox, [hubspot_event(12, "1001")])
    event["body"] = event["body"].replace("CEO", "CFO")
    capsys.readouterr()
    assert lambda_handlers.http(event, None)["statusCode"] == 401
    [document] = emf_documents(capsys.readouterr().out)
    check_shape(document)
    assert document["reason"] == "unauthorized"
    assert document["webhook_rejected"] == 1
    assert "webhook_acknowledged" not in document


def test_the_worker_reports_records_assessed_and_api_calls_per_crm(
    aws: Aws,
    sandbox: HubSpotSandbox,  # noqa: F811
    deployed: dict[str, str],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    contact = sandbox.create_contact({"jobtitle": "CEO", "numemployees": "100-500"})
    assert lambda_handlers.http(signed_webhook(sandbox, [hubspot_event(13, contact)]), None)["statusCode"] == 204
    capsys.readouterr()
    bridge(aws, deployed["queue_url"], rounds=2)
    documents = [d for d in emf_documents(capsys.readouterr().out) if d["function"] == "worker"]
    assert documents
    for document in documents:
        check_shape(document)
    assert sum(d.get("records_assessed", 0) for d in documents if d.get("crm") == "hubspot") == 1
    assert sum(d.get("records_written", 0) for d in documents if d.get("crm") == "hubspot") == 1
    assert sum(d.get("crm_api_calls", 0) for d in documents if d.get("crm") == "hubspot") >= 2  # fetch, write
    assert all(isinstance(d.get("pass_seconds", []), list) for d in documents)
