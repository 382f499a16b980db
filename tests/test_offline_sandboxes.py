"""Everything can be tried offline (issue 20, items 9 and 11): the sandboxes as `leadtherm sandbox` runs them.

Each test runs the installed `leadtherm` in subprocesses: the sandbox, then the commands a user
types in another shell with the settings the sandbox printed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import requests
from leadtherm_sandboxes.waiting import wait_until

from harness.servers import ConsoleProcess
from integration.calibration.history import MIN_PER_CLASS
from tests.sandbox_process import LEADTHERM, TRACEBACK, SandboxProcess, clean_env, free_port_pair
from tests.webhooks.console.conftest import FETCH, SECRET, csrf_of, job_ended, log_in_at


def run(*args: str, env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEADTHERM, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


@pytest.fixture
def salesforce(tmp_path: Path) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess.of("salesforce", "--records", "60", cwd=tmp_path)
    yield sandbox
    rest = sandbox.stop()
    assert sandbox.process.returncode == 0 and TRACEBACK not in "\n".join(rest)


def test_the_salesforce_sandbox_prints_its_pubsub_settings_beside_the_rest(salesforce: SandboxProcess) -> None:
    settings = salesforce.settings
    host, _, port = settings["SALESFORCE_PUBSUB_ENDPOINT"].partition(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert settings["SALESFORCE_CDC"] == "1"
    assert settings["SALESFORCE_PUBSUB_CA_BUNDLE"] == settings["SALESFORCE_CA_BUNDLE"]
    assert Path(settings["SALESFORCE_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "REQUESTS_CA_BUNDLE" not in settings  # trusting the sandbox is leadtherm's business, not the shell's


def test_listen_salesforce_receives_a_reps_change_through_the_sandboxs_pubsub_endpoint(
    salesforce: SandboxProcess, tmp_path: Path
) -> None:
    env = clean_env(**salesforce.settings, LEADTHERM_DB=str(tmp_path / "leadtherm.db"))
    assert run("setup", "salesforce", env=env, cwd=tmp_path).returncode == 0
    lead = salesforce.rep_url.rsplit("/", 1)[1]
    before = run("explain", "salesforce", lead, env=env, cwd=tmp_path)
    assert before.returncode != 0  # nothing assessed yet: no backfill ran

    listen = subprocess.Popen(
        [LEADTHERM, "listen", "salesforce", "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    try:
        assert listen.stderr is not None
        for line in listen.stderr:
            lines.append(line)
            if "listening to" in line:
                break
        assert any("listening to" in line for line in lines), lines
        # "listening" is logged as the stream opens; a change made before it is subscribed is not
        # replayed (LATEST), so the rep edits the lead again (a new status each time) until one arrives.
        statuses = iter(["Working - Contacted", "Open - Not Contacted"] * 30)

        def assessed() -> bool:
            changed = requests.post(
                salesforce.rep_url,
                json={"Rating": "Hot", "Status": next(statuses)},
                verify=salesforce.settings["SALESFORCE_CA_BUNDLE"],
                timeout=10,
            )
            assert changed.status_code == 200 and changed.json()["by"] == "rep"
            return run("explain", "salesforce", lead, env=env, cwd=tmp_path).returncode == 0

        assert wait_until(assessed, 60, step=1.0), "the rep's change never reached leadtherm"
    finally:
        listen.terminate()
        listen.wait(30)
    shown = run("explain", "salesforce", lead, env=env, cwd=tmp_path).stdout
    assert shown.startswith(f"salesforce:Lead:{lead}") and "Rep rates them hot" in shown


def test_the_rep_route_refuses_an_unknown_field_and_an_unknown_record(salesforce: SandboxProcess) -> None:
    ca = salesforce.settings["SALESFORCE_CA_BUNDLE"]
    answer = requests.post(salesforce.rep_url, json={"NoSuchField__x": 1}, verify=ca, timeout=10)
    assert answer.status_code == 400 and "NoSuchField__x" in answer.json()["error"]
    nonstandard = requests.post(salesforce.rep_url, data=b'{"Rating": NaN}', verify=ca, timeout=10)
    assert nonstandard.status_code == 400
    missing = requests.post(
        salesforce.rep_url.rsplit("/", 1)[0] + "/00Q5g9999999999AAA", json={"Rating": "Hot"}, verify=ca, timeout=10
    )
    assert missing.status_code == 404


@pytest.mark.slow
def test_calibrate_learns_from_the_history_each_running_sandbox_holds(tmp_path: Path) -> None:
    for crm in ("hubspot", "salesforce"):
        folder = tmp_path / crm
        folder.mkdir()
        sandbox = SandboxProcess.of(crm, cwd=folder)
        try:
            env = clean_env(**sandbox.settings, LEADTHERM_DB=str(folder / "leadtherm.db"))
            assert run("setup", crm, env=env, cwd=folder).returncode == 0
            ran = run("calibrate", crm, "--out", "scoring.calibrated.yaml", env=env, cwd=folder)
        finally:
            sandbox.stop()
        assert ran.returncode == 0, f"{crm}: {ran.stderr}"
        assert (folder / "scoring.calibrated.yaml").is_file()
        checked = run("check", str(folder / "scoring.calibrated.yaml"), env=env, cwd=folder)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_state_dir_keeps_the_outbound_secret_and_the_ca_across_a_restart(tmp_path: Path) -> None:
    port = str(free_port_pair())
    state = str(tmp_path / "state")

    def start(*args: str) -> SandboxProcess:
        return SandboxProcess.of("salesforce", "--port", port, "--records", "3", *args, cwd=tmp_path)

    def setup_with(settings: dict[str, str]) -> int:
        env = clean_env(**settings, LEADTHERM_DB=str(tmp_path / "leadtherm.db"))
        return run("setup", "salesforce", env=env, cwd=tmp_path).returncode

    first = start("--state-dir", state)
    configured = first.settings  # what the user pasted into their shell
    ca = Path(configured["SALESFORCE_CA_BUNDLE"]).read_bytes()
    first.stop()

    restarted = start("--state-dir", state)
    try:
        assert restarted.settings == configured
        assert Path(configured["SALESFORCE_CA_BUNDLE"]).read_bytes() == ca
        assert setup_with(configured) == 0  # the shell configured for the first run still works
    finally:
        restarted.stop()
    assert (tmp_path / "state" / "sandbox-ca.key").stat().st_mode & 0o077 == 0

    forgetful = start()  # without a state dir: a new secret and a new CA, which the old settings do not trust
    try:
        assert forgetful.settings["SALESFORCE_OUTBOUND_SECRET"] != configured["SALESFORCE_OUTBOUND_SECRET"]
        assert setup_with(configured) == 1
    finally:
        forgetful.stop()


def test_a_missing_salesforce_ca_bundle_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = clean_env(
        SALESFORCE_CA_BUNDLE=str(tmp_path / "no-such-ca.pem"),
        SALESFORCE_USERNAME="someone@example.com",
        SALESFORCE_PASSWORD="x",
    )
    ran = run("setup", "salesforce", env=env, cwd=tmp_path)
    assert ran.returncode == 2 and TRACEBACK not in ran.stderr
    assert ran.stderr.splitlines()[0].startswith("error: environment variable SALESFORCE_CA_BUNDLE is not valid")


@pytest.mark.slow
@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_the_consoles_read_the_history_finds_outcomes_in_the_running_sandbox(crm: str, tmp_path: Path) -> None:
    sandbox = SandboxProcess.of(crm, cwd=tmp_path)
    try:
        env = clean_env(**sandbox.settings, LEADTHERM_DB=str(tmp_path / "leadtherm.db"), LEADTHERM_ADMIN_SECRET=SECRET)
        assert run("setup", crm, env=env, cwd=tmp_path).returncode == 0
        console = ConsoleProcess(env, tmp_path / "mappings", cwd=tmp_path)
        try:
            assert console.url is not None
            http, _ = log_in_at(console.url)
            token = csrf_of(http.get(f"{console.url}/admin/whatif", timeout=10).text)
            pull = f"{console.url}/admin/whatif/crm"
            started = http.post(pull, data={"crm": crm, "csrf_token": token}, headers=FETCH, timeout=30)
            assert started.status_code == 202, started.text[-300:]  # a history pull is a background job
            job = job_ended(http, console.url + started.json()["status_url"])
            assert job["state"] == "done", job
            page = http.get(f"{console.url}/admin/whatif", timeout=30)
        finally:
            console.stop()
    finally:
        sandbox.stop()
    found = re.search(r"History: [^,]+, (\d+) leads, (\d+) conversions\.", page.text)
    assert found is not None, re.findall(r'class="flash[^"]*">([^<]+)', page.text)
    leads, conversions = int(found.group(1)), int(found.group(2))
    assert MIN_PER_CLASS <= conversions <= leads - MIN_PER_CLASS


def test_salesforce_ca_bundle_is_trusted_even_when_the_shell_exports_another_requests_ca_bundle(
    salesforce: SandboxProcess, tmp_path: Path
) -> None:
    """A shell may export REQUESTS_CA_BUNDLE for something else; plain requests lets it win over a session's CA."""
    env = clean_env(**salesforce.settings, LEADTHERM_DB=str(tmp_path / "leadtherm.db"))
    env["REQUESTS_CA_BUNDLE"] = certifi.where()  # the public roots: not the sandbox's CA
    ran = run("setup", "salesforce", env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    del env["SALESFORCE_CA_BUNDLE"]
    assert run("setup", "salesforce", env=env, cwd=tmp_path).returncode == 1  # the public roots alone do not do
