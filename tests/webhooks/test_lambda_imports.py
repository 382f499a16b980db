"""The Lambda HTTP handler only verifies and enqueues: its cold start loads no CRM SDK, grpc, CLI, or mapping models.

Run in a fresh interpreter and read from its `sys.modules`, so an import hidden inside a function
counts too (the import-linter contract in pyproject.toml sees only the static ones).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Top-level packages and modules the HTTP handler must not load, and why.
FORBIDDEN = {
    "hubspot": "the HubSpot SDK (the route computes signatures itself)",
    "simple_salesforce": "the Salesforce SDK (only the worker calls the CRM)",
    "zeep": "simple_salesforce's SOAP client",
    "grpc": "the CDC listener's transport",
    "fastavro": "the CDC listener's decoder",
    "typer": "the CLI",
    "rich": "the CLI's output",
    "waitress": "`serve`'s server",
    "leadtherm_sandboxes": "the CRM emulators (not in the Lambda zip)",
    "trustme": "a test certificate authority",
    "pydantic": "the mapping and settings models (the worker validates; the routes read only the object types)",
}
FORBIDDEN_MODULES = (
    "integration.cli",
    "webhooks.serve",
    "webhooks.console",
    "mappings.schema",
    "mappings.loader",
    "integration.service.pipeline",
)

COLD_START = """
import json, sys
from webhooks import lambda_handlers
lambda_handlers._http_handler()
print(json.dumps(sorted(sys.modules)))
"""


def cold_start_modules(tmp_path: Path) -> set[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "LEADTHERM_DB": str(tmp_path / "queue.db"),
        "HUBSPOT_ACCESS_TOKEN": "token",
        "HUBSPOT_CLIENT_SECRET": "secret",
        "SALESFORCE_INSTANCE_URL": "https://example.my.salesforce.com",
        "SALESFORCE_ACCESS_TOKEN": "session",
        "SALESFORCE_ORG_ID": "00D000000000001AAA",
        "SALESFORCE_OUTBOUND_SECRET": "outbound-secret-of-32-characters",
        "SALESFORCE_CALLOUT_SECRET": "callout-secret-of-32-characters",
    }
    done = subprocess.run(
        [sys.executable, "-c", COLD_START], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_http_handler_builds_its_app_without_sdks_grpc_or_the_cli(tmp_path: Path) -> None:
    modules = cold_start_modules(tmp_path)
    assert "webhooks.app" in modules and "adapters.salesforce.inbound" in modules  # it did build both CRMs' routes
    loaded = {m.split(".")[0] for m in modules} & FORBIDDEN.keys()
    assert not loaded, {name: FORBIDDEN[name] for name in loaded}
    assert not [m for m in modules if m.startswith(FORBIDDEN_MODULES)]
