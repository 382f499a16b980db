"""`leadtherm console` as a real process with both sandboxes connected, and the pages it serves, found from its url_map.

Shared by the layout browser tests and docs/screenshots.py (which shows every page).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter

from adapters.sqlite import SqliteStateStore, SqliteWorkQueue
from harness.packaged_copy import copy_packaged
from harness.servers import ConsoleProcess
from integration.files.rules_folder import FolderRulesStore
from tests.sandbox_process import LEADTHERM, SandboxProcess, clean_env
from tests.webhooks.console.conftest import csrf_of, log_in_at
from webhooks.console import ConsoleConfig, create_console_app

SECRET = "correct horse battery staple"
CRMS = ("hubspot", "salesforce")
# GET endpoints that are no page of their own: the login (before logging in), assets, a job's JSON status, redirects.
NOT_PAGES = frozenset({"console.login", "console.static", "console.job_status", "console.home"})


@dataclass
class LiveConsole:
    url: str
    folder: Path
    sandboxes: dict[str, SandboxProcess]
    db: Path  # the console's LEADTHERM_DB: its queue and state


@contextmanager
def live_console(folder: Path) -> Iterator[LiveConsole]:
    """Both sandboxes, and `leadtherm console` over their settings and a fresh mappings folder in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        sandboxes: dict[str, SandboxProcess] = {}
        for crm in CRMS:
            sandbox = SandboxProcess.of(crm, cwd=folder)
            stack.callback(sandbox.stop)
            sandboxes[crm] = sandbox
        settings = {k: v for s in sandboxes.values() for k, v in s.settings.items()}
        env = clean_env(**settings, LEADTHERM_DB=str(folder / "leadtherm.db"), LEADTHERM_ADMIN_SECRET=SECRET)
        for crm in CRMS:
            scored(crm, env, folder)
        console = ConsoleProcess(env, folder / "mappings", cwd=folder)
        stack.callback(console.stop)
        assert console.url is not None
        applied(console.url)
        yield LiveConsole(console.url, folder / "mappings", sandboxes, folder / "leadtherm.db")


def scored(crm: str, env: dict[str, str], cwd: Path) -> None:
    """Every record of the sandbox scored once, as `serve` would have: the stored records the console lists."""
    for command in (["setup", crm], ["backfill", crm]):
        ran = subprocess.run([LEADTHERM, *command], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, f"leadtherm {' '.join(command)}: {ran.stderr[-500:]}"


def applied(url: str) -> None:
    """One version applied through the console (a rule's points raised), so the history has a version page."""
    http, answer = log_in_at(url, SECRET, "Ada")
    token = csrf_of(answer.text)
    data = {"axis": "fit", "index": "1", "points": "33", "csrf_token": token}  # Director or VP title
    assert http.post(f"{url}/admin/rules/points", data=data, timeout=30).ok
    note = {"note": "directors matter more", "csrf_token": token}
    assert "/admin/history" in http.post(f"{url}/admin/apply", data=note, timeout=30).url
    http.post(f"{url}/admin/logout", data={"csrf_token": token}, timeout=30)


def offline_app(folder: Path) -> Flask:
    """The console's app over a copy of the packaged mappings: what its url_map lists is every page it serves."""
    mappings = copy_packaged(folder / "mappings")
    db = folder / "pages.sqlite"
    config = ConsoleConfig(
        secret=SECRET, store=FolderRulesStore(mappings), queue=SqliteWorkQueue(db), state=SqliteStateStore(db)
    )
    return create_console_app(config)


def page_endpoints(app: Flask) -> dict[str, str]:
    """Every GET page of the console: endpoint -> its URL rule (those with arguments found through links)."""
    return {
        rule.endpoint: rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "GET" in (rule.methods or ()) and rule.endpoint not in NOT_PAGES
    }


def fixed_pages(app: Flask) -> dict[str, str]:
    """The pages whose URL has no argument: endpoint -> path."""
    return {e: r for e, r in page_endpoints(app).items() if "<" not in r}


def endpoint_of(adapter: MapAdapter, url: str) -> str | None:
    """Which endpoint a link of a page leads to (None: outside the console, or no GET page)."""
    path = urlsplit(url).path
    try:
        endpoint, _ = adapter.match(path, method="GET")
    except HTTPException:
        return None
    return str(endpoint)


def one_link_per_page(app: Flask, links: Iterable[str], wanted: Iterable[str]) -> dict[str, str]:
    """For each wanted endpoint, the first link that leads to it: pages with arguments, as the pages link them."""
    adapter = app.url_map.bind("127.0.0.1")
    found: dict[str, str] = {}
    wanted = set(wanted)
    for link in links:
        endpoint = endpoint_of(adapter, link)
        if endpoint in wanted and endpoint not in found:
            found[endpoint] = urlsplit(link).path
    return found
