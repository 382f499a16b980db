"""Poison change events and a crashing subscriber, through `leadtherm listen` / `serve` against the Pub/Sub sandbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.waiting import wait_until

from adapters.salesforce.pubsub.subscriber import cursor_name
from harness.servers import free_port
from integration.composition.runtime import open_backend
from tests.adapters.salesforce.cdc_world import HOT_LEAD, LEAD_TOPIC, World, world
from tests.serve_process import ServeProcess

__all__ = ["world"]

pytestmark = pytest.mark.slow


def _listen(world: World, log: Path, **env: str) -> subprocess.Popen[bytes]:
    executable = shutil.which("leadtherm", path=str(Path(sys.executable).parent))
    assert executable, "the leadtherm console script is installed with the package"
    full = {**os.environ, **world.env, "SALESFORCE_CDC": "1", "SALESFORCE_CDC_BATCH": "10", **env}
    with log.open("ab") as out:
        command = [executable, "listen", "salesforce", "--workers", "1"]
        return subprocess.Popen(command, env=full, stdout=out, stderr=out)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(10)


def test_poison_events_are_dead_lettered_with_their_replay_id_and_the_stream_moves_on(
    world: World, tmp_path: Path
) -> None:
    queue, state = open_backend(world.env)
    log = tmp_path / "listen.log"
    process = _listen(world, log)
    try:
        assert wait_until(lambda: state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 20), log.read_text()
        poisons = {kind: world.pubsub.publish_poison(kind) for kind in ("unknown-schema", "bad-schema", "bad-payload")}
        lead = world.org.create_lead(HOT_LEAD)  # after the poison: only reached if the stream moves on
        assert wait_until(lambda: any(r == lead for r, _ in world.org.writes), 30), log.read_text()[-3000:]
        assert process.poll() is None
    finally:
        _stop(process)
    letters = queue.dead_letters()
    assert len(letters) == len(poisons)
    for kind, replay in poisons.items():
        replay_hex = replay.to_bytes(8, "big").hex()
        letter = next(x for x in letters if replay_hex in x.event.event_id)
        assert LEAD_TOPIC in letter.reason and replay_hex in letter.reason, (kind, letter.reason)
        assert "backfill" in letter.reason
    stored = state.get_cursor(cursor_name(LEAD_TOPIC))
    assert stored is not None and int(stored, 16) > max(poisons.values())  # the replay id moved past them
    assert world.pubsub.schema_requests <= 6  # each unknown schema asked for once, not in a loop
    assert "Traceback" not in log.read_text()


def test_a_subscriber_that_keeps_crashing_restarts_with_backoff_then_listen_exits_non_zero(
    world: World, tmp_path: Path
) -> None:
    _, state = open_backend(world.env)
    log = tmp_path / "listen.log"
    process = _listen(world, log, SALESFORCE_CDC_MAX_CRASHES="3")
    try:
        assert wait_until(lambda: state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 20), log.read_text()
        world.pubsub.publish_poison("bad-header")  # decodes, then breaks the translation: a bug, not a poison
        code = process.wait(30)
    finally:
        _stop(process)
    text = log.read_text()
    assert code == 1, text[-3000:]
    assert text.count("restarting the subscriber") == 2, text[-3000:]
    assert "crashed 3 times in a row" in text.splitlines()[-1]


def test_healthz_is_degraded_while_events_wait_and_the_replay_id_stands_still(world: World, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **world.env, "SALESFORCE_CDC": "1", "SALESFORCE_CDC_MAX_STALL": "1"}
    server = ServeProcess(port, env, tmp_path / "serve.log")
    server.start()
    health = f"http://127.0.0.1:{port}/healthz"
    _, state = open_backend(world.env)
    try:
        assert wait_until(lambda: state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 20)  # subscribed
        world.pubsub.schema_outage = True  # the first event's schema cannot be fetched: it waits
        lead = world.org.create_lead(HOT_LEAD)

        def stalled() -> bool:
            answer = requests.get(health, timeout=5)
            return answer.status_code == 503 and any("replay id has not moved" in r for r in answer.json()["reasons"])

        assert wait_until(stalled, 20), (tmp_path / "serve.log").read_text()[-3000:]
        world.pubsub.schema_outage = False
        assert wait_until(lambda: any(r == lead for r, _ in world.org.writes), 60)
        assert wait_until(lambda: requests.get(health, timeout=5).status_code == 200, 20)
    finally:
        server.stop()


def test_under_serve_a_subscriber_that_gave_up_keeps_healthz_degraded_while_webhooks_still_work(
    world: World, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, **world.env, "SALESFORCE_CDC": "1", "SALESFORCE_CDC_MAX_CRASHES": "2"}
    server = ServeProcess(port, env, tmp_path / "serve.log")
    server.start()
    health = f"http://127.0.0.1:{port}/healthz"
    _, state = open_backend(world.env)
    try:
        assert wait_until(lambda: state.get_cursor(cursor_name(LEAD_TOPIC)) is not None, 20)  # subscribed
        world.pubsub.publish_poison("bad-header")

        def gave_up() -> bool:
            answer = requests.get(health, timeout=5)
            return answer.status_code == 503 and any("crashed 2 times" in r for r in answer.json()["reasons"])

        assert wait_until(gave_up, 20), (tmp_path / "serve.log").read_text()[-3000:]
        assert server.alive()  # the HTTP side and the workers carry on
    finally:
        server.stop()
