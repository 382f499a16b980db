"""serverless.yml keeps the invariants the AWS deployment depends on."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.composition.runtime import settings_from_env
from integration.service.retry import POLICY

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "serverless.yml"


def _resolve(value: Any, custom: dict[str, Any]) -> Any:
    """Resolve the ${self:custom.X} references the invariants are about."""
    if isinstance(value, str):
        match = re.fullmatch(r"\$\{self:custom\.(\w+)\}", value.strip())
        return custom[match.group(1)] if match else value
    return value


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return data


@pytest.fixture(scope="module")
def custom(config: dict[str, Any]) -> dict[str, Any]:
    return dict(config["custom"])


def _sqs_event(config: dict[str, Any]) -> dict[str, Any]:
    [event] = [e["sqs"] for e in config["functions"]["worker"]["events"] if "sqs" in e]
    return dict(event)


def test_it_wants_the_open_framework_major_version(config: dict[str, Any]) -> None:
    assert str(config["frameworkVersion"]) == "4"
    assert config["provider"]["runtime"] == "python3.11"


def test_the_worker_reports_partial_batch_failures(config: dict[str, Any]) -> None:
    assert _sqs_event(config)["functionResponseType"] == "ReportBatchItemFailures"


def test_worker_concurrency_and_rate_stay_within_the_crm_limit(config: dict[str, Any], custom: dict[str, Any]) -> None:
    event = _sqs_event(config)
    concurrency = _resolve(event["maximumConcurrency"], custom)
    assert 2 <= concurrency <= 1000
    per_worker, _, window = str(_resolve(config["provider"]["environment"]["HUBSPOT_RATE_LIMIT"], custom)).partition(
        "/"
    )
    assert float(window) == custom["crmWindowSeconds"]
    assert int(per_worker) * concurrency <= custom["crmRequestsPerWindow"]
    assert _resolve(event["batchSize"], custom) <= 100  # one CRM batch per invocation


def test_queue_visibility_is_at_least_six_times_the_worker_timeout(
    config: dict[str, Any], custom: dict[str, Any]
) -> None:
    queue = config["resources"]["Resources"]["WorkQueue"]["Properties"]
    timeout = _resolve(config["functions"]["worker"]["timeout"], custom)
    assert _resolve(queue["VisibilityTimeout"], custom) >= 6 * timeout


def test_poison_messages_are_redriven_to_a_dead_letter_queue(config: dict[str, Any], custom: dict[str, Any]) -> None:
    redrive = config["resources"]["Resources"]["WorkQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert 1 < _resolve(redrive["maxReceiveCount"], custom) <= 10


def test_the_retry_policy_fits_the_worker_timeout_and_its_attempts_are_the_redrive_count(
    config: dict[str, Any], custom: dict[str, Any]
) -> None:
    timeout = _resolve(config["functions"]["worker"]["timeout"], custom)
    POLICY.check_fits(float(timeout), "worker timeout")  # at least one worst-case CRM call, and the commit
    redrive = config["resources"]["Resources"]["WorkQueue"]["Properties"]["RedrivePolicy"]
    receives = _resolve(config["provider"]["environment"]["LEADTHERM_MAX_RECEIVES"], custom)
    settings = settings_from_env({"LEADTHERM_MAX_RECEIVES": str(receives)})
    # The pipeline dead-letters with its reason on the last receive; SQS never redrives without one.
    assert settings.retry.queue_attempts == _resolve(redrive["maxReceiveCount"], custom)


def test_a_sweep_is_scheduled(config: dict[str, Any]) -> None:
    events = config["functions"]["sweep"]["events"]
    assert any(str(e.get("schedule", "")).startswith("rate(") for e in events)


def test_the_state_table_expires_items_with_ttl(config: dict[str, Any]) -> None:
    table = config["resources"]["Resources"]["StateTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_table_matches_what_the_state_store_queries(config: dict[str, Any]) -> None:
    from adapters.aws.dynamodb_state import DUE_INDEX

    table = config["resources"]["Resources"]["StateTable"]["Properties"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == DUE_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["due_pk", "next_drop_at"]
    assert {"AttributeName": "next_drop_at", "AttributeType": "N"} in table["AttributeDefinitions"]


def test_secrets_are_read_from_ssm_at_run_time_never_resolved_at_deploy(config: dict[str, Any]) -> None:
    assert "${ssm:" not in CONFIG.read_text()
    environment = config["provider"]["environment"]
    for secret in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_CLIENT_SECRET"):
        assert secret not in environment
        assert str(environment[f"SSM_{secret}"]).startswith("${self:custom.ssmPrefix}/")


def test_iam_statements_are_least_privilege(config: dict[str, Any]) -> None:
    for statement in config["provider"]["iam"]["role"]["statements"]:
        actions = statement["Action"]
        assert all(a != "*" and not a.endswith(":*") for a in actions), actions
        for resource in statement["Resource"]:
            assert resource != "*"
            if isinstance(resource, str):
                assert resource.startswith("arn:aws:") and not resource.endswith(":*")


def test_the_http_api_serves_every_route_of_the_app(config: dict[str, Any]) -> None:
    routes = {(e["httpApi"]["method"], e["httpApi"]["path"]) for e in config["functions"]["http"]["events"]}
    assert routes == {
        ("POST", "/webhooks/hubspot"),
        ("POST", "/webhooks/salesforce"),
        ("POST", "/webhooks/salesforce/flow"),
        ("GET", "/healthz"),
    }


def test_handlers_name_real_functions(config: dict[str, Any]) -> None:
    import importlib

    for function in config["functions"].values():
        module, _, name = function["handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_the_package_leaves_boto3_out_and_targets_linux() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("lambda-package:", 1)[1].split("\n\n", 1)[0]
    assert "--platform manylinux" in recipe and "--only-binary=:all:" in recipe
    assert "boto3" in recipe  # excluded explicitly


def _osls() -> list[str] | None:
    local = ROOT / "node_modules" / ".bin" / "osls"
    if local.exists():
        return [str(local)]
    return None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: `osls print` not checked")
def test_osls_prints_the_config_without_aws_credentials(tmp_path: Path) -> None:
    command = _osls()
    if command is None:
        pytest.skip("osls is not installed (run `make osls`); `osls print` not checked")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", SLS_TELEMETRY_DISABLED="1")
    done = subprocess.run(
        [*command, "print", "--format", "json", "--stage", "test"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed = json.loads(done.stdout[done.stdout.index("{") :])
    assert printed["functions"]["worker"]["events"][0]["sqs"]["maximumConcurrency"] == 2
