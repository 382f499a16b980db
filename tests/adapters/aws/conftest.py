"""moto's server on 127.0.0.1 and real boto3 clients pointed at it: no AWS account, no internet."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from adapters.aws.resources import create_resources

_names = itertools.count()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


@dataclass
class Aws:
    sqs: Any
    dynamodb: Any
    ssm: Any
    queue_url: str
    dlq_url: str
    table: str


@pytest.fixture
def aws(aws_env: dict[str, str]) -> Aws:
    sqs, dynamodb, ssm = (boto3.client(name) for name in ("sqs", "dynamodb", "ssm"))
    made = create_resources(sqs, dynamodb, f"leadtherm-test-{next(_names)}-{int(time.time())}", max_receives=3)
    return Aws(sqs, dynamodb, ssm, made["queue_url"], made["dlq_url"], made["table"])
