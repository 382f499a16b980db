"""The console served by waitress on an ephemeral port, over a copy of the packaged mappings."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import waitress
from flask import Flask
from leadtherm_sandboxes.waiting import wait_until

from adapters.sqlite import SqliteStateStore, SqliteWorkQueue
from harness.packaged_copy import copy_packaged
from integration.files.rules_folder import FolderRulesStore
from webhooks.console import ConsoleConfig, create_console_app

SECRET = "correct horse battery staple"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@dataclass
class Served:
    url: str
    store: FolderRulesStore
    queue: SqliteWorkQueue
    state: SqliteStateStore
    folder: Path


def serve_app(app: Flask, **options: Any) -> Iterator[str]:
    # poll, not select: closing the server from the test thread then ends the loop instead of raising EBADF
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4, asyncore_use_poll=True, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_packaged(tmp_path / "mappings")


@pytest.fixture
def served(folder: Path, tmp_path: Path) -> Iterator[Served]:
    store = FolderRulesStore(folder)
    queue, state = SqliteWorkQueue(tmp_path / "db.sqlite"), SqliteStateStore(tmp_path / "db.sqlite")
    app = create_console_app(ConsoleConfig(secret=SECRET, store=store, queue=queue, state=state, login_attempts=3))
    for url in serve_app(app):
        yield Served(url, store, queue, state, folder)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "page has no CSRF token"
    return found.group(1)


LogIn = Callable[..., tuple[requests.Session, str]]


def log_in_at(url: str, secret: str = SECRET, name: str = "Ada") -> tuple[requests.Session, requests.Response]:
    """Log in to the console at `url` as Ada (or `name`); the session and the page the login answered with."""
    http = requests.Session()
    token = csrf_of(http.get(f"{url}/admin/login", timeout=10).text)
    answer = http.post(f"{url}/admin/login", data={"secret": secret, "name": name, "csrf_token": token}, timeout=10)
    return http, answer


@pytest.fixture
def log_in(served: Served) -> LogIn:
    def log_in(secret: str = SECRET) -> tuple[requests.Session, str]:
        http, answer = log_in_at(served.url, secret)
        return http, csrf_of(answer.text) if answer.ok else ""

    return log_in


FETCH = {"X-Requested-With": "fetch"}  # what the page's script sends: a job answers with its status as JSON


def job_status(http: requests.Session, url: str) -> dict[str, object]:
    """A console job's status, as its page polls it."""
    answer = http.get(url, timeout=10)
    assert answer.status_code == 200
    status: dict[str, object] = answer.json()
    return status


def job_ended(http: requests.Session, url: str, timeout: float = 120) -> dict[str, object]:
    """Poll a console job's status URL until it is done or failed; its last status."""
    seen: dict[str, object] = {}

    def ended() -> bool:
        seen.update(job_status(http, url))
        return seen["state"] in ("done", "failed")

    assert wait_until(ended, timeout, step=0.1)
    return seen
