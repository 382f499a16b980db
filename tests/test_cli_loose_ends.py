"""CLI loose ends (issue #20), through the installed `leadtherm` in a subprocess against the sandboxes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from adapters.sqlite import Database, SqliteWorkQueue
from harness.servers import free_port
from integration.ports import ChangeEvent, RecordRef
from tests.adapters.hubspot.helpers import sandbox_env
from tests.serve_process import ServeProcess
from tests.test_cli_first_mistakes import CLEARED, LEADTHERM, TRACEBACK, leadtherm

TOKEN, SECRET = "pat-loose-ends", "loose-ends-secret"


def test_reading_commands_in_a_folder_without_a_database_create_none(tmp_path: Path) -> None:
    for command in (["dlq", "list"], ["dlq", "replay"], ["explain", "hubspot", "1001"]):
        ran = leadtherm(*command, cwd=tmp_path)  # no LEADTHERM_DB: ./leadtherm.db
        assert ran.code == 2, (command, ran.stderr)
        assert ran.stderr.splitlines() == [
            f"error: no leadtherm database at {tmp_path / 'leadtherm.db'} (LEADTHERM_DB is not set, so "
            "./leadtherm.db; point LEADTHERM_DB at the database `leadtherm serve` uses)"
        ]
    assert list(tmp_path.iterdir()) == []


def test_dlq_list_names_the_database_it_read(tmp_path: Path) -> None:
    db = tmp_path / "service" / "leadtherm.db"
    db.parent.mkdir()
    queue = SqliteWorkQueue(Database(db))
    queue.enqueue([ChangeEvent("hubspot:1", RecordRef("hubspot", "contact", "1001"))])
    queue.dead_letter(queue.lease(10, 30), "HubSpot rejected the request")
    ran = leadtherm("dlq", "list", env={"LEADTHERM_DB": str(db), "COLUMNS": "200"}, cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    assert ran.stderr.splitlines()[0] == f"database: {db}"
    assert "hubspot:contact:1001" in ran.stdout


def _backfill(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return subprocess.Popen(
        [LEADTHERM, "backfill", "hubspot"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**base, **env},
        cwd=cwd,
    )


def test_ctrl_c_during_backfill_says_how_to_resume_and_the_rerun_says_where_it_resumed(tmp_path: Path) -> None:
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0), latency=0.05)
    sandbox.start()
    try:
        for n in range(500):
            sandbox.create_contact({"jobtitle": "Engineer" if n % 2 else "CEO", "numemployees": "25-50"})
        env = sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)
        assert leadtherm("setup", "hubspot", env=env, cwd=tmp_path).code == 0
        first = _backfill(env, tmp_path)
        updates = "POST /crm/v3/objects/contacts/batch/update"
        assert wait_until(lambda: sandbox.calls[updates] >= 2, 60, step=0.02)
        first.send_signal(signal.SIGINT)
        _, said = first.communicate(timeout=60)
        assert first.returncode == 130, said
        assert TRACEBACK not in said
        stopped = re.search(r"backfill hubspot interrupted at (\d+)/500: every page it finished is saved; "
                            r"run `leadtherm backfill hubspot` again to resume there", said)  # fmt: skip
        assert stopped is not None, said
        done = int(stopped.group(1))
        assert 0 < done < 500

        again = _backfill(env, tmp_path)
        out, said = again.communicate(timeout=120)
        assert again.returncode == 0, said
        assert f"backfill hubspot: resuming at {done}/500 (an earlier run was interrupted" in said
        assert f"{500 - done} assessed" in out
    finally:
        sandbox.stop()


def test_the_worker_log_names_the_echoes_of_its_own_writes_it_dropped(tmp_path: Path) -> None:
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=(10_000, 10.0))
    sandbox.start()
    port = free_port()
    log = tmp_path / "serve.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env = {**base, **sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, SECRET)}
    serve = ServeProcess(port, env, log)
    try:
        assert leadtherm("setup", "hubspot", env=env, cwd=tmp_path).code == 0
        serve.start()
        sandbox.configure_webhooks(f"http://127.0.0.1:{port}/webhooks/hubspot", SECRET, time_scale=0.0005)
        sandbox.create_contact({"jobtitle": "CEO", "numemployees": "100-500"})

        def dropped() -> bool:
            return re.search(r"; dropped \d+ echo(es)? of its own writes?", log.read_text()) is not None

        assert wait_until(dropped, 30, step=0.1), log.read_text()
    finally:
        serve.stop()
        sandbox.stop()
