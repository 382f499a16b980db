"""The running service scores with the rules applied in the console, without a restart (HubSpot sandbox)."""

from __future__ import annotations

import threading
from pathlib import Path

import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from harness.packaged_copy import copy_packaged
from integration.composition.routes import routes_of
from integration.composition.runtime import build_runtime
from integration.service.pipeline import PipelineSettings
from integration.service.retry import RetryPolicy
from integration.service.worker import run_worker
from tests.adapters.hubspot.conftest import SECRET as HUBSPOT_SECRET
from tests.adapters.hubspot.conftest import TOKEN, sandbox
from tests.adapters.hubspot.helpers import sandbox_env
from tests.adapters.hubspot.test_end_to_end import HOT
from tests.webhooks.console.conftest import SECRET, csrf_of, serve_app
from webhooks.app import AppConfig, create_app
from webhooks.console.command import mount_console

__all__ = ["sandbox"]  # the HubSpot tests' portal fixture, used here as it is


def _temperature(sandbox: HubSpotSandbox, contact: str) -> object:
    return sandbox.contact(contact).get("leadtherm_temperature")


def test_serve_scores_with_the_rules_applied_in_the_console_without_a_restart(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    folder = copy_packaged(tmp_path / "mappings")
    env = {**sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, HUBSPOT_SECRET), "LEADTHERM_ADMIN_SECRET": SECRET}
    # What `serve` does, with the console mounted under /admin as LEADTHERM_ADMIN_SECRET asks.
    runtime = build_runtime(env, ["hubspot"], folder, PipelineSettings(retry=RetryPolicy(queue_delay=0.05)))
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    app = create_app(AppConfig(runtime.queue, routes_of(runtime, env)))
    assert mount_console(app, runtime, env)
    stop = threading.Event()
    threading.Thread(target=run_worker, args=(runtime.pipeline, stop, 0.02), daemon=True).start()
    assert runtime.rules_provider is not None
    runtime.rules_provider.keep_marking(stop)  # as serve does: consoles see that this service reads the store
    try:
        for url in serve_app(app):
            sandbox.configure_webhooks(f"{url}/webhooks/hubspot", HUBSPOT_SECRET, time_scale=0.0005, batch_window=0.02)
            contact = sandbox.create_contact(HOT)
            quiet = sandbox.create_contact({**HOT, "email": "vp@fjord.example"})
            assert wait_until(lambda c=contact: _temperature(sandbox, c) == "warm", 10)
            assert wait_until(lambda c=quiet: _temperature(sandbox, c) == "warm", 10)

            http = requests.Session()
            token = csrf_of(http.get(f"{url}/admin/login", timeout=10).text)
            page = http.post(f"{url}/admin/login", data={"secret": SECRET, "csrf_token": token}, timeout=10)
            token = csrf_of(page.text)
            # The preview can read its records from the connected CRM, through the adapter.
            pulled = http.post(f"{url}/admin/records/crm", data={"crm": "hubspot", "csrf_token": token}, timeout=10)
            assert "Records: hubspot (2 records)" in pulled.text and "0 of 2 records change" in pulled.text
            assert "cto@nordlys.example" not in pulled.text
            bands = {"cool": "20", "warm": "95", "hot": "99", "csrf_token": token}
            http.post(f"{url}/admin/rules/settings", data=bands, timeout=10)
            applied = http.post(f"{url}/admin/apply", data={"csrf_token": token}, timeout=10)
            assert "Applied as version" in applied.text
            assert wait_until(lambda: runtime.pipeline.rules.temperature.warm == 95, 5)  # picked up, no restart

            sandbox.update_contact(contact, {"hs_analytics_num_page_views": "41"})
            assert wait_until(lambda c=contact: _temperature(sandbox, c) == "cool", 10)
            assert sandbox.contact(contact)["leadtherm_previous_temperature"] == "warm"

            # A record with no new event is re-scored through the backfill path, from the console.
            assert _temperature(sandbox, quiet) == "warm"
            http.post(f"{url}/admin/rescore", data={"csrf_token": token}, timeout=10)
            assert wait_until(lambda c=quiet: _temperature(sandbox, c) == "cool", 20)
            progress = f"{url}/admin/rescore"
            assert wait_until(lambda h=http, p=progress: 'id="rescore-done"' in h.get(p, timeout=10).text, 20)
            assert "1 record(s) written" in http.get(progress, timeout=10).text  # the other was already current
    finally:
        sandbox.webhook_url = None
        stop.set()
