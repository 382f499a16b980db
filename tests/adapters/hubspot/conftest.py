"""HubSpot fixtures: the sandbox over real HTTP, the real SDK, and the app serving webhooks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import waitress
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from waitress.server import BaseWSGIServer

from adapters.hubspot.client import HubSpotClient
from adapters.hubspot.field_setup import setup
from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime, build_runtime
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from integration.service.worker import run_worker
from mappings.loader import load_mapping
from tests.adapters.hubspot.helpers import sandbox_env
from webhooks.app import AppConfig, create_app

TOKEN = "test-token"
SECRET = "test-client-secret"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    portal = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    portal.start()
    yield portal
    portal.stop()


@pytest.fixture
def client(sandbox: HubSpotSandbox) -> HubSpotClient:
    mapping = load_mapping("hubspot")
    hubspot = HubSpotClient(mapping, TOKEN, sandbox.base_url)
    setup(hubspot.api, mapping)
    return hubspot


@dataclass
class Live:
    """leadtherm serving the sandbox's webhooks, with a worker, on a temporary database."""

    sandbox: HubSpotSandbox
    runtime: Runtime
    url: str
    stop: threading.Event

    def start_worker(self) -> None:
        threading.Thread(target=run_worker, args=(self.runtime.pipeline, self.stop, 0.02), daemon=True).start()

    def connect_webhooks(self) -> None:
        self.sandbox.configure_webhooks(f"{self.url}/webhooks/hubspot", SECRET, time_scale=0.0005, batch_window=0.02)


@pytest.fixture
def live(paused: Live) -> Live:
    paused.start_worker()
    paused.connect_webhooks()
    return paused


@pytest.fixture
def paused(sandbox: HubSpotSandbox, tmp_path: Path) -> Iterator[Live]:
    """Serving, but with no worker and no webhooks yet: the test decides when."""
    env = sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)
    runtime = build_runtime(
        env, ["hubspot"], settings=PipelineSettings(retry=replace(POLICY, queue_delay=0.05, queue_attempts=8))
    )
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    server: BaseWSGIServer = waitress.create_server(  # type: ignore[assignment]
        create_app(AppConfig(runtime.queue, routes_of(runtime, env))), host="127.0.0.1", port=0, threads=4
    )
    url = f"http://127.0.0.1:{server.effective_port}"
    stop = threading.Event()
    threading.Thread(target=server.run, daemon=True).start()
    yield Live(sandbox, runtime, url, stop)
    sandbox.webhook_url = None  # no deliveries into a closing server
    stop.set()
    server.close()
