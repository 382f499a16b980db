"""Fixtures for the CDC tests: the org sandbox, its Pub/Sub endpoint, a set-up org and a runtime."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from leadtherm_sandboxes.salesforce.pubsub_sandbox import PubSubSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.salesforce.pubsub.listener import Listener
from integration.composition.runtime import Runtime, build_runtime
from integration.service.pipeline import PipelineSettings
from integration.service.retry import RetryPolicy
from mappings.loader import load_mapping
from tests.adapters.salesforce.conftest import password_env

HOT_LEAD = {
    "Email": "cto@nordlys.example", "Title": "Chief Technology Officer", "NumberOfEmployees": 300,
    "Industry": "Software", "Country": "Sweden", "LeadSource": "Employee Referral", "Rating": "Hot",
    "Status": "Working - Contacted", "LastActivityDate": time.strftime("%Y-%m-%d"),
}  # fmt: skip
LEAD_TOPIC = "/data/LeadChangeEvent"


@dataclass
class World:
    org: SalesforceSandbox
    pubsub: PubSubSandbox
    env: dict[str, str]

    def runtime(self) -> Runtime:
        return build_runtime(self.env, ["salesforce"], settings=PipelineSettings(retry=RetryPolicy(queue_delay=0.05)))

    def listener(self, runtime: Runtime, **env: str) -> Listener:
        return Listener(runtime, {**self.env, **env})

    def listening(self, **env: str) -> tuple[Runtime, Listener, threading.Event, threading.Thread]:
        """A fresh runtime and its listener, running in the background and connected."""
        runtime = self.runtime()
        listener = self.listener(runtime, **env)
        stop, thread = run_in_background(listener)
        assert wait_until(lambda: listener.subscribers[0].stats.connected, 5)
        return runtime, listener, stop, thread


def cdc_env(org: SalesforceSandbox, pubsub: PubSubSandbox, folder: Path) -> dict[str, str]:
    return {
        **password_env(org),
        "LEADTHERM_DB": str(folder / "leadtherm.db"),
        "SALESFORCE_RATE_LIMIT": "10000/10",
        "SALESFORCE_PUBSUB_ENDPOINT": pubsub.target,
        "SALESFORCE_PUBSUB_CA_BUNDLE": org.ca_bundle_path,
        "SALESFORCE_CDC_TOPICS": LEAD_TOPIC,
    }


@pytest.fixture
def world(sandbox: SalesforceSandbox, tmp_path: Path) -> Iterator[World]:
    """An org with leadtherm's fields set up and its Pub/Sub endpoint running."""
    pubsub = PubSubSandbox(sandbox, keepalive=0.2)
    pubsub.start()
    env = cdc_env(sandbox, pubsub, tmp_path)
    build_runtime(env, ["salesforce"]).plugins["salesforce"].setup(load_mapping("salesforce"), env)
    yield World(sandbox, pubsub, env)
    pubsub.stop()


def run_in_background(listener: Listener) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread
