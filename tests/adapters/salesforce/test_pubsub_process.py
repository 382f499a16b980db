"""`leadtherm listen salesforce` as a real process: killed with SIGKILL mid-stream, it loses nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from leadtherm_sandboxes.waiting import wait_until

from adapters.salesforce.pubsub.subscriber import cursor_name
from integration.composition.runtime import open_backend
from tests.adapters.salesforce.cdc_world import HOT_LEAD, LEAD_TOPIC, World, world

__all__ = ["world"]

pytestmark = pytest.mark.slow


def _listen(world: World, log: Path) -> subprocess.Popen[bytes]:
    executable = shutil.which("leadtherm", path=str(Path(sys.executable).parent))
    assert executable, "the leadtherm console script is installed with the package"
    env = {**os.environ, **world.env, "SALESFORCE_CDC": "1", "SALESFORCE_CDC_BATCH": "10"}
    with log.open("ab") as out:
        return subprocess.Popen([executable, "listen", "salesforce", "--workers", "1"], env=env, stdout=out, stderr=out)


def test_kill_9_mid_stream_loses_nothing_and_writes_nothing_twice(world: World, tmp_path: Path) -> None:
    _, state = open_backend(world.env)
    log = tmp_path / "listen.log"
    process = _listen(world, log)
    try:
        assert wait_until(lambda: state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 20), log.read_text()
        leads: list[str] = []

        def create(count: int) -> None:
            for _ in range(count):
                leads.append(world.org.create_lead({**HOT_LEAD, "Email": f"p{len(leads)}@acme.example"}))

        creating = threading.Thread(target=create, args=(300,))
        creating.start()
        assert wait_until(lambda: len(world.org.writes) >= 30, 30), log.read_text()
        process.send_signal(signal.SIGKILL)  # mid-stream: events received, some queued, some written
        process.wait(10)
        creating.join()
        written_before = len(world.org.writes)
        assert written_before < len(leads)  # the kill really came in the middle
        process = _listen(world, log)
        assert wait_until(lambda: len({r for r, _ in world.org.writes}) == len(leads), 60), log.read_text()[-2000:]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    per_lead = {lead: sum(1 for r, _ in world.org.writes if r == lead) for lead in leads}
    assert set(per_lead.values()) == {1}
    assert all(world.org.record("Lead", lead)["Lead_Temperature__c"] == "warm" for lead in leads)
