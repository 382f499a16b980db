"""A record cannot freeze `serve`: the admin's patterns run on RE2, so a job title made to backtrack is harmless."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from harness.packaged_copy import copy_packaged
from harness.servers import free_port
from tests.adapters.hubspot.helpers import running_portal, sandbox_env
from tests.serve_process import LEADTHERM, ServeProcess

TOKEN = "hostile-token"
SECRET = "hostile-secret"
# Python's `re` needs minutes on it for either pattern below: 2^34 ways to split the a's before the '!' fails.
HOSTILE_TITLE = "a" * 34 + "!"
NESTED_RULE = """\
  - label: Made of a's
    attribute: title
    matches: '^(a+)+$'
    points: 5
"""
NESTED_SENIORITY = """\
  - pattern: '^(\\w+\\s?)+$'
    value: individual
"""


def hostile_folder(folder: Path) -> Path:
    """The packaged files, with a nested-quantifier rule and a nested-quantifier seniority pattern first."""
    scoring = folder / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("fit:\n", "fit:\n" + NESTED_RULE, 1))
    mapping = folder / "hubspot.yaml"
    mapping.write_text(mapping.read_text().replace("seniority:", "seniority:\n" + NESTED_SENIORITY.rstrip("\n"), 1))
    assert "(a+)+" in scoring.read_text() and "(\\w+\\s?)+" in mapping.read_text()
    return folder


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with running_portal(TOKEN) as portal:
        yield portal


def answers_within_a_second(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_job_title_made_to_backtrack_neither_freezes_serve_nor_delays_its_sigterm(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    folder = hostile_folder(copy_packaged(tmp_path / "mappings"))
    port = free_port()
    env = {
        **os.environ,
        **sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET),
        "LEADTHERM_MAPPINGS": str(folder),
    }
    env.pop("LEADTHERM_ADMIN_SECRET", None)
    check = subprocess.run([*LEADTHERM, "check", str(folder)], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr  # RE2 runs both patterns: they are valid
    assert subprocess.run([*LEADTHERM, "setup", "hubspot"], env=env, capture_output=True, timeout=60).returncode == 0
    server = ServeProcess(port, env)
    server.start()
    try:
        sandbox.configure_webhooks(f"http://127.0.0.1:{port}/webhooks/hubspot", SECRET, batch_window=0.01)
        contact = sandbox.create_contact({"email": "a@acme.example", "jobtitle": "Analyst"})
        sandbox.update_contact(contact, {"jobtitle": HOSTILE_TITLE})
        assert sandbox.flush_webhooks(20), "the signed webhook was not acknowledged"
        # Scored and written back: the hostile title went through both patterns.
        assert wait_until(lambda: sandbox.contact(contact).get("leadtherm_score") is not None, 20, step=0.1)
        assert wait_until(lambda: server.depth() == 0, 20, step=0.1)
        assert all(answers_within_a_second(port) for _ in range(5))
        assert server.process is not None
        asked = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=5)
        assert time.monotonic() - asked < 1.0, "SIGTERM took more than a second"
    finally:
        server.stop()
