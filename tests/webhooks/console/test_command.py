"""`leadtherm console` as a user runs it: a clear error without its secret, the real server with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from adapters.sqlite import SqliteStateStore
from harness.servers import ConsoleProcess
from integration.service.pause import CrmPauses
from tests.webhooks.console.conftest import SECRET, log_in_at

LEADTHERM = str(Path(sys.executable).with_name("leadtherm"))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTHERM_", "HUBSPOT_", "SALESFORCE_"))}
    return {**env, **extra}


def test_without_the_admin_secret_the_console_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run([LEADTHERM, "console", "--port", "0"], env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "LEADTHERM_ADMIN_SECRET" in done.stderr


def test_the_packaged_defaults_are_not_edited_in_place(tmp_path: Path) -> None:
    done = subprocess.run(
        [LEADTHERM, "console", "--port", "0"],
        env=_env(LEADTHERM_ADMIN_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--init" in done.stderr


def _console(folder: Path, db: Path, cwd: Path) -> ConsoleProcess:
    """`leadtherm console --init` on a free port, as a user starts it."""
    return ConsoleProcess(_env(LEADTHERM_ADMIN_SECRET=SECRET, LEADTHERM_DB=str(db)), folder, cwd=cwd)


def _logged_in(url: str) -> requests.Session:
    http, page = log_in_at(url)
    assert page.ok and "Scoring rules" in page.text
    assert SECRET not in page.text
    return http


def test_init_copies_the_defaults_and_serves_the_login_on_the_port_it_prints(tmp_path: Path) -> None:
    folder = tmp_path / "my-mappings"
    console = _console(folder, tmp_path / "db.sqlite", tmp_path)
    try:
        assert sorted(p.name for p in folder.glob("*.yaml")) == [
            "hubspot.yaml",
            "salesforce.yaml",
            "scoring.company.yaml",
            "scoring.yaml",
        ]
        assert console.url is not None
        _logged_in(console.url)
    finally:
        lines = console.stop()
    assert console.process.returncode == 0  # SIGTERM ends it cleanly
    assert not any(SECRET in line for line in lines)


def test_the_operations_page_shows_a_pause_the_workers_of_another_process_recorded(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    CrmPauses(probe_every=15.0, record=SqliteStateStore(db)).pause("salesforce", "Salesforce refused the session")
    console = _console(tmp_path / "my-mappings", db, tmp_path)
    try:
        assert console.url is not None
        page = _logged_in(console.url).get(f"{console.url}/admin/operations", timeout=10).text
        assert "salesforce: Salesforce refused the session (since 20" in page
    finally:
        console.stop()
