"""Both CRM sandboxes with a runtime built on an admin's folder (the example named scores), set up and served.

Shared by the end-to-end tests of named scores and of company / account scores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import waitress
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime, build_runtime
from integration.service.pipeline import PipelineSettings
from integration.service.retry import POLICY
from tests.adapters.hubspot.helpers import sandbox_env
from tests.adapters.salesforce.conftest import password_env
from tests.test_named_scores import admin_folder
from webhooks.app import AppConfig, create_app

TOKEN, SECRET = "test-token", "test-client-secret"
SETTINGS = PipelineSettings(retry=replace(POLICY, queue_delay=0.05, queue_attempts=8))


def _serve(runtime: Runtime, env: dict[str, str]) -> tuple[Any, str]:
    server: Any = waitress.create_server(
        create_app(AppConfig(runtime.queue, routes_of(runtime, env))), host="127.0.0.1", port=0, threads=4
    )
    threading.Thread(target=server.run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.effective_port}"


@contextmanager
def hubspot_served(tmp_path: Path) -> Iterator[tuple[HubSpotSandbox, Runtime, str]]:
    """The HubSpot sandbox, leadtherm set up on it and serving its webhooks at the URL yielded."""
    portal = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    portal.start()
    env = sandbox_env(portal, tmp_path / "leadtherm.db", TOKEN, SECRET)
    runtime = build_runtime(env, ["hubspot"], mappings=admin_folder(tmp_path), settings=SETTINGS)
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    server, url = _serve(runtime, env)
    try:
        yield portal, runtime, url
    finally:
        portal.webhook_url = None
        server.close()
        portal.stop()


@contextmanager
def salesforce_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra_files: Mapping[str, str] | None = None
) -> Iterator[tuple[SalesforceSandbox, Runtime, str]]:
    """The Salesforce sandbox, leadtherm set up on it (fields and permissions) and serving at the URL yielded."""
    org = SalesforceSandbox()
    org.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle_path)
    env = {**password_env(org), "LEADTHERM_DB": str(tmp_path / "leadtherm.db"), "SALESFORCE_RATE_LIMIT": "10000/10"}
    folder = admin_folder(tmp_path)
    for name, text in (extra_files or {}).items():
        (folder / name).write_text(text, encoding="utf-8")
    first = build_runtime(env, ["salesforce"], mappings=folder)
    first.plugins["salesforce"].setup(first.mappings["salesforce"], env)
    runtime = build_runtime(env, ["salesforce"], mappings=folder, settings=SETTINGS)  # sees the new fields
    server, url = _serve(runtime, env)
    try:
        yield org, runtime, url
    finally:
        org.outbound_url = None
        server.close()
        org.stop()
