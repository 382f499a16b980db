"""One rules store, shared: the README's console and serve, as real processes, edit and read the same rules.

The console says which store it edits and whether a running service reads it, and promises
"the service scores with it from its next batch" only then; two admins applying from the same
version cannot both be told "applied"; `serve` never mounts the console on the packaged folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from harness.servers import LEADTHERM, free_port
from mappings.loader import PACKAGED
from tests.adapters.hubspot.conftest import SECRET as HUBSPOT_SECRET
from tests.adapters.hubspot.conftest import TOKEN, sandbox
from tests.adapters.hubspot.helpers import sandbox_env
from tests.adapters.hubspot.test_end_to_end import HOT
from tests.serve_process import ServeProcess
from tests.webhooks.console.conftest import SECRET, csrf_of

__all__ = ["sandbox"]  # the HubSpot tests' portal fixture, used here as it is


def _env(tmp_path: Path, sandbox: HubSpotSandbox, **extra: str) -> dict[str, str]:
    """The README's settings: one LEADTHERM_MAPPINGS and one database for the console and serve."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTHERM_", "HUBSPOT_", "SALESFORCE_"))}
    return {
        **clean,
        **sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, HUBSPOT_SECRET),
        "LEADTHERM_ADMIN_SECRET": SECRET,
        **extra,
    }


@contextmanager
def console_process(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`leadtherm console --init` as the README starts it; yields its URL."""
    process = subprocess.Popen(
        [LEADTHERM, "console", "--port", "0", "--init"], env=env, stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    assert process.stderr is not None
    try:
        line = ""
        while "console on" not in line:
            line = process.stderr.readline()
            assert line, "the console exited before serving"
        found = re.search(r"http://127\.0\.0\.1:(\d+)/admin/", line)
        assert found and f"editing the rules in folder {Path(env['LEADTHERM_MAPPINGS']).resolve()}" in line
        yield f"http://127.0.0.1:{found.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def log_in_as(url: str, name: str) -> tuple[requests.Session, str]:
    """A logged-in admin's session and its CSRF token."""
    http = requests.Session()
    token = csrf_of(http.get(f"{url}/admin/login", timeout=10).text)
    page = http.post(f"{url}/admin/login", data={"secret": SECRET, "name": name, "csrf_token": token}, timeout=10)
    assert page.ok
    return http, csrf_of(page.text)


def set_bands(http: requests.Session, url: str, token: str, warm: int) -> None:
    bands = {"cool": "20", "warm": str(warm), "hot": "99", "csrf_token": token}
    assert http.post(f"{url}/admin/rules/settings", data=bands, timeout=30).ok


def apply(http: requests.Session, url: str, token: str) -> str:
    return http.post(f"{url}/admin/apply", data={"csrf_token": token}, timeout=60).text


def apply_at_once(url: str, admins: dict[str, tuple[requests.Session, str]]) -> dict[str, str]:
    """Every admin presses Apply at the same instant; the page each one gets back."""
    answers: dict[str, str] = {}
    start = threading.Barrier(len(admins))

    def run(name: str) -> None:
        http, token = admins[name]
        start.wait()
        answers[name] = apply(http, url, token)

    threads = [threading.Thread(target=run, args=(name,)) for name in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def _temperature(sandbox: HubSpotSandbox, contact: str) -> object:
    return sandbox.contact(contact).get("leadtherm_temperature")


def test_the_readme_console_and_serve_share_the_rules_and_the_console_says_when_a_service_reads_them(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "my-mappings"
    env = _env(tmp_path, sandbox, LEADTHERM_MAPPINGS=str(folder))
    with console_process(env, tmp_path) as url:  # --init has copied the defaults into my-mappings
        assert subprocess.run([LEADTHERM, "setup", "hubspot"], env=env, capture_output=True, timeout=60).returncode == 0
        http, token = log_in_as(url, "Ada")
        page = http.get(f"{url}/admin/rules", timeout=10).text
        assert f"Editing the rules in folder {folder.resolve()}: no running service reads it." in page
        set_bands(http, url, token, 95)
        applied = apply(http, url, token)
        assert f"Applied to folder {folder.resolve()} as version 2; no running service reads it." in applied
        assert "scores with it from its next batch" not in applied

        port = free_port()
        service = ServeProcess(port, env)
        service.start()  # the README's `leadtherm serve`, on the same LEADTHERM_MAPPINGS
        try:
            assert wait_until(lambda: "read by serve on" in http.get(f"{url}/admin/rules", timeout=10).text, 20)
            sandbox.configure_webhooks(
                f"http://127.0.0.1:{port}/webhooks/hubspot", HUBSPOT_SECRET, time_scale=0.0005, batch_window=0.02
            )
            contact = sandbox.create_contact(HOT)
            assert wait_until(lambda: _temperature(sandbox, contact) == "cool", 20)  # version 2: warm from 95

            set_bands(http, url, token, 21)
            applied = apply(http, url, token)
            assert "Applied as version 3; the service scores with it from its next batch." in applied
            sandbox.update_contact(contact, {"hs_analytics_num_page_views": "41"})
            assert wait_until(lambda: _temperature(sandbox, contact) == "warm", 20)  # the service scores with it
        finally:
            service.stop()
        # A service that stopped removed its mark: the console no longer promises anything.
        assert "no running service reads it" in http.get(f"{url}/admin/rules", timeout=10).text


def test_of_two_admins_applying_at_once_in_the_console_one_is_told_the_rules_changed(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "my-mappings"
    env = _env(tmp_path, sandbox, LEADTHERM_MAPPINGS=str(folder))
    with console_process(env, tmp_path) as url:
        for trial in range(3):
            # New names each trial: a draft is kept per admin, and the loser's draft now holds a conflict.
            admins = {name: log_in_as(url, name) for name in (f"Ada{trial}", f"Grace{trial}")}
            for offset, (http, token) in enumerate(admins.values()):
                set_bands(http, url, token, 41 + 2 * trial + offset)  # each draft based on the same version
            answers = apply_at_once(url, admins)
            won = [name for name, text in answers.items() if "Applied to" in text or "Applied as" in text]
            assert len(won) == 1, answers
            (lost,) = set(admins) - set(won)
            found = re.search(r"the rules changed since you started \(version (\d+) by (\w+)\)", answers[lost])
            assert found and found.group(2) == won[0], answers[lost]
            in_force = (folder / "scoring.yaml").read_text()
            warm = 41 + 2 * trial + list(admins).index(won[0])
            assert re.search(rf"^\s*warm: {warm}\b", in_force, re.M), "the winner's edit is in force"


def test_serve_with_the_admin_secret_and_no_mappings_folder_refuses_to_edit_the_package(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    env = _env(tmp_path, sandbox)
    assert subprocess.run([LEADTHERM, "setup", "hubspot"], env=env, capture_output=True, timeout=60).returncode == 0
    before = sorted(p.name for p in PACKAGED.iterdir())
    done = subprocess.run(
        [LEADTHERM, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "not the packaged defaults" in error[0] and "LEADTHERM_MAPPINGS" in error[0]
    assert sorted(p.name for p in PACKAGED.iterdir()) == before  # no .history written into the package
