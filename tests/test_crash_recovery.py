"""`kill -9` of `leadtherm serve` in the middle of a burst loses nothing, writes nothing twice, audits every write."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until as wait_for

from adapters.sqlite import Database, SqliteStateStore
from harness.servers import free_port
from integration.domain.outputs import canonical, format_datetime
from integration.ports import RecordRef
from mappings.loader import load_mapping
from tests.adapters.hubspot.helpers import (
    expected_outputs,
    repeated_writes,
    running_portal,
    sandbox_env,
    written_outputs,
)
from tests.serve_process import LEADTHERM, LEASE_SECONDS, ServeProcess

TOKEN = "crash-token"
SECRET = "crash-secret"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with running_portal(TOKEN) as portal:
        yield portal


def unaudited_writes(
    sandbox: HubSpotSandbox, state: SqliteStateStore, contacts: set[str]
) -> dict[str, tuple[int, int]]:
    """Contact -> (writes the CRM received, writes audited), where they differ."""
    wrong = {}
    for contact in contacts:
        received = sum(1 for c, _ in sandbox.writes if c == contact)
        audited = sum(1 for e in state.audit(RecordRef("hubspot", "contact", contact), 1000) if e.action == "write")
        if received != audited:
            wrong[contact] = (received, audited)
    return wrong


def stale_history(sandbox: HubSpotSandbox, state: SqliteStateStore, contacts: set[str]) -> list[str]:
    """Contacts whose stored temperature history disagrees with what the CRM holds."""
    mapping = load_mapping("hubspot")
    stale = []
    for contact in contacts:
        held = sandbox.contact(contact)
        [stored] = state.load([RecordRef("hubspot", "contact", contact)]).values()
        changed_at = format_datetime(stored.temperature_changed_at) if stored.temperature_changed_at else None
        ours = (stored.temperature, stored.previous_temperature, changed_at)
        theirs = tuple(
            canonical(key, held.get(str(mapping.output_field(key))))
            for key in ("temperature", "previous_temperature", "temperature_changed_at")
        )
        if ours != theirs:
            stale.append(contact)
    return stale


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_kill_9_mid_burst_then_restart_assesses_every_record_once(sandbox: HubSpotSandbox, tmp_path: Path) -> None:
    rng = random.Random(11)
    contacts = [
        sandbox.create_contact({"email": f"p{n}@acme.example", "jobtitle": rng.choice(["CEO", "Manager", "Analyst"])})
        for n in range(400)
    ]
    port = free_port()
    env = {**os.environ, **sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)}
    assert subprocess.run([*LEADTHERM, "setup", "hubspot"], env=env, capture_output=True, timeout=60).returncode == 0
    server = ServeProcess(port, env)
    server.start()
    try:
        # HubSpot's retry schedule, squeezed: a failed delivery is retried within seconds.
        sandbox.configure_webhooks(
            f"http://127.0.0.1:{port}/webhooks/hubspot", SECRET, time_scale=0.002, batch_window=0.01
        )
        touched: set[str] = set()
        for n in range(2000):
            contact = rng.choice(contacts)
            touched.add(contact)
            sandbox.update_contact(contact, {"hs_analytics_num_page_views": str(n)})
            if n == 1000:
                assert wait_for(lambda: sandbox.delivered >= 500, 10)
                server.kill()  # mid-burst: some events queued, some in flight, some not yet sent
        server.start()
        assert sandbox.flush_webhooks(60), "the sandbox could not deliver every event"
        assert wait_for(lambda: server.depth() == 0, LEASE_SECONDS + 60, step=0.2)
        assert sandbox.failed_attempts > 0  # deliveries really failed while serve was down
        wrong = [c for c in touched if written_outputs(sandbox, c) != expected_outputs(sandbox, c)]
        assert wrong == []
        untouched = set(contacts) - touched
        assert all(sandbox.contact(c).get("leadtherm_score") is None for c in untouched)  # no event, no write
        assert repeated_writes(sandbox) == []
        server.stop()
        state = SqliteStateStore(Database(env["LEADTHERM_DB"]))
        assert unaudited_writes(sandbox, state, touched) == {}
        assert stale_history(sandbox, state, touched) == []
    finally:
        server.stop()
