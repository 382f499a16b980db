"""The journal intake killed with SIGKILL in the middle of a stream loses nothing and writes nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from tests.adapters.hubspot.helpers import expected_outputs, repeated_writes, written_outputs
from tests.adapters.hubspot.journal_world import journal_world

# The installed command, as an operator runs it: the journal intake and a worker in one process.
LISTEN = [str(Path(sys.executable).with_name("leadtherm")), "listen", "hubspot", "--workers", "1"]
WARM = {"jobtitle": "Head of Marketing", "numemployees": "100-500", "hs_analytics_source": "REFERRALS"}


def _listener(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            LISTEN, env={**os.environ, **env, "HUBSPOT_JOURNAL": "1"}, stdout=out, stderr=subprocess.STDOUT
        )


def test_a_listener_killed_mid_stream_loses_nothing_and_writes_nothing_twice(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    sandbox.journal.max_entry_events = 5  # many small entries: the kill lands between two of them
    with journal_world(sandbox, tmp_path) as world:
        log = tmp_path / "listen.log"
        process = _listener(world.env, log)
        try:
            first = sandbox.create_contact({**WARM, "email": "first@fjord.example"})
            assert wait_until(lambda: any(c == first for c, _ in sandbox.writes), 20), log.read_text()
            contacts = [sandbox.create_contact({**WARM, "email": f"k{n}@fjord.example"}) for n in range(300)]
            assert wait_until(lambda: len(sandbox.writes) > 20, 20), log.read_text()
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            assert len({c for c, _ in sandbox.writes}) < 301  # killed mid-stream, not after it
            process = _listener(world.env, log)

            def written() -> Counter[str]:
                return Counter(contact for contact, _ in sandbox.writes)

            assert wait_until(lambda: set(contacts) <= set(written()) and world.settled(), 40), log.read_text()
            assert world.stored_offset() == world.newest_offset()
            assert set(written().values()) == {1}  # nothing written twice
            assert repeated_writes(sandbox) == []
            for contact in contacts[::50]:
                assert written_outputs(sandbox, contact) == expected_outputs(sandbox, contact)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(15)
