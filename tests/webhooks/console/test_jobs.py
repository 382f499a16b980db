"""The console's long work runs as background jobs: answered at once, polled, bounded, on its own API budget."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from harness.calibration_data import write_history, write_mapping
from harness.packaged_copy import copy_packaged
from harness.servers import LEADTHERM, free_port
from integration.composition.routes import routes_of
from integration.composition.runtime import Runtime, build_runtime
from integration.domain.whatif import what_if
from integration.service.guard import GuardedClient
from mappings.loader import load_file
from mappings.schema import CrmMapping, ScoringRules
from tests.adapters.hubspot.conftest import SECRET as HUBSPOT_SECRET
from tests.adapters.hubspot.conftest import TOKEN, sandbox
from tests.adapters.hubspot.helpers import sandbox_env
from tests.adapters.hubspot.test_end_to_end import HOT
from tests.serve_process import ServeProcess
from tests.webhooks.console.conftest import FETCH, SECRET, LogIn, Served, csrf_of, job_ended, job_status, serve_app
from webhooks.app import AppConfig, create_app
from webhooks.console.command import mount_console
from webhooks.console.jobs import BACKGROUND_SHARE, Job, JobRefused, JobRunner, Progress, background_clients
from webhooks.console.offload import (
    background_bucket,
    lower_priority,
    run_in_child,
    upload_task,
    whatif_task,
    wire_size,
)

__all__ = ["sandbox"]  # the HubSpot tests' portal fixture, used here as it is


def _upload(http: requests.Session, served: Served, token: str, history: Path, mapping: Path) -> None:
    """Upload a history (itself a background job) and wait until it is read; the page is not loaded,
    so the what-if does not start by itself."""
    with history.open("rb") as h, mapping.open("rb") as m:
        answer = http.post(
            f"{served.url}/admin/whatif/upload",
            data={"crm": "hubspot", "outcome": "won", "outcome_date": "closed_at", "csrf_token": token},
            files={"history": ("history.csv", h, "text/csv"), "mapping": ("sheet.yaml", m, "application/yaml")},
            headers=FETCH,
            timeout=60,
        )
    assert answer.status_code == 202
    assert job_ended(http, served.url + answer.json()["status_url"])["state"] == "done"


def test_an_upload_that_cannot_be_read_fails_its_job_with_the_reason(
    served: Served, log_in: LogIn, tmp_path: Path
) -> None:
    http, token = log_in()
    mapping = write_mapping(tmp_path / "sheet.yaml")
    with mapping.open("rb") as m:
        answer = http.post(
            f"{served.url}/admin/whatif/upload",
            data={"crm": "hubspot", "outcome": "no_such_column", "csrf_token": token},
            files={"history": ("h.csv", b"a,b\n1,2\n", "text/csv"), "mapping": ("s.yaml", m, "application/yaml")},
            headers=FETCH,
            timeout=60,
        )
    status = job_ended(http, served.url + answer.json()["status_url"])
    assert status["state"] == "failed" and "no_such_column" in str(status["error"])
    assert "no_such_column" in http.get(f"{served.url}/admin/whatif", timeout=10).text  # shown on the page


def test_starting_a_what_if_answers_at_once_with_a_job_whose_status_shows_progress_then_the_result(
    served: Served, log_in: LogIn, tmp_path: Path
) -> None:
    http, token = log_in()
    history, mapping = write_history(tmp_path / "history.csv", rows=3000), write_mapping(tmp_path / "sheet.yaml")
    _upload(http, served, token, history, mapping)
    started = http.post(f"{served.url}/admin/whatif/run", data={"csrf_token": token}, headers=FETCH, timeout=10)
    assert started.status_code == 202
    job = started.json()
    assert job["kind"] == "what-if" and job["state"] in ("queued", "running") and job["id"]
    states = []
    while True:
        status = job_status(http, served.url + job["status_url"])
        states.append((status["state"], status["done"], status["total"]))
        if status["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert states[-1] == ("done", 3000, 3000)
    assert all(0 <= done <= 3000 for _, done, _ in states)
    page = http.get(f"{served.url}/admin/whatif", timeout=30).text
    assert 'id="whatif-table"' in page and 'id="job"' not in page


def test_another_admin_cannot_read_a_job(served: Served, log_in: LogIn, tmp_path: Path) -> None:
    http, token = log_in()
    history, mapping = write_history(tmp_path / "history.csv", rows=500), write_mapping(tmp_path / "sheet.yaml")
    _upload(http, served, token, history, mapping)
    job = http.post(f"{served.url}/admin/whatif/run", data={"csrf_token": token}, headers=FETCH, timeout=10).json()
    other, _ = log_in()
    assert other.get(served.url + job["status_url"], timeout=10).status_code == 404


def test_the_pool_runs_one_job_at_a_time_queues_a_few_and_refuses_more_with_a_reason() -> None:
    runner = JobRunner(workers=1, max_waiting=1)
    release = threading.Event()
    running = threading.Event()

    def long(progress: object) -> str:
        running.set()
        release.wait(10)
        return "done"

    first = runner.submit("ada", "what-if", long, lambda _: None)
    assert running.wait(5)
    with pytest.raises(JobRefused, match="your what-if is still running"):
        runner.submit("ada", "calibration", long, lambda _: None)
    second = runner.submit("grace", "what-if", long, lambda _: None)
    with pytest.raises(JobRefused, match="1 jobs are already waiting"):
        runner.submit("linus", "what-if", long, lambda _: None)
    assert (first.state, second.state) == ("running", "queued")  # one worker: the second waits
    release.set()
    assert wait_until(lambda: second.state == "done", 10)
    assert first.state == "done"


def test_a_history_read_in_a_job_goes_to_the_next_job_as_it_came_and_gives_the_same_figures(tmp_path: Path) -> None:
    mapping = load_file(CrmMapping, write_mapping(tmp_path / "sheet.yaml"))
    export = write_history(tmp_path / "history.csv", rows=800).read_bytes()
    job = Job("j", "history upload", "ada")
    progress = Progress(job, threading.Lock())
    history = run_in_child(upload_task, (export, "history.csv", mapping, "won", "closed_at", ""), None, progress)
    assert len(history.leads) == 800 and (job.done, job.total) == (800, 800)
    assert wire_size(history) > 0  # kept beside it: the next child gets these bytes, no lead pickled again
    current = load_file(ScoringRules, copy_packaged(tmp_path / "mappings") / "scoring.yaml")
    edited = current.model_copy(update={"temperature": current.temperature.model_copy(update={"hot": 60})})
    job = Job("k", "what-if", "ada")
    in_child = run_in_child(whatif_task, (current, edited, 0.3, 7), history, Progress(job, threading.Lock()))
    assert in_child == what_if(history, current, edited, 0.3, 7)
    assert (job.done, job.total) == (800, 800)  # the last count arrives, however few reports the child sent


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux's idle scheduling class")
def test_a_jobs_process_is_put_below_the_service_by_the_server_itself_not_only_once_it_runs() -> None:
    # The child's own first line comes after its imports (about a second of CPU): too late.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lower_priority(child.pid)
        assert os.sched_getscheduler(child.pid) == os.SCHED_IDLE
        if len(os.sched_getaffinity(0)) > 1:
            assert os.sched_getaffinity(child.pid) == {max(os.sched_getaffinity(0))}
        assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the server itself is left as it was
    finally:
        child.kill()
        child.wait()


def _threads_cpus(pid: int) -> list[set[int]]:
    """The CPUs each thread of a process may run on (Linux keeps one set per thread)."""
    cpus = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            cpus.append(os.sched_getaffinity(int(tid)))
    return cpus


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.isdigit() and int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _jobs_process(pid: int) -> int | None:
    """The server's child in the idle class (its other child, multiprocessing's tracker, is not)."""
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if os.sched_getscheduler(child) == os.SCHED_IDLE:
                return child
    return None


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2, reason="a CPU of its own for the jobs"
)
def test_while_a_jobs_process_runs_serves_threads_keep_off_its_cpu_and_get_every_cpu_back_after(
    sandbox: HubSpotSandbox, tmp_path: Path
) -> None:
    everything = os.sched_getaffinity(0)
    jobs_cpu = max(everything)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTHERM_", "HUBSPOT_", "SALESFORCE_"))}
    env = {
        **clean,
        **sandbox_env(sandbox, tmp_path / "leadtherm.db", TOKEN, HUBSPOT_SECRET),
        "LEADTHERM_ADMIN_SECRET": SECRET,
        "LEADTHERM_MAPPINGS": str(copy_packaged(tmp_path / "my-mappings")),
    }
    assert subprocess.run([LEADTHERM, "setup", "hubspot"], env=env, capture_output=True, timeout=60).returncode == 0
    for n in range(30):
        sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"})
    port = free_port()
    serve = ServeProcess(port, env)
    serve.start()  # the real `leadtherm serve`, console under /admin
    try:
        assert serve.process is not None
        pid, url = serve.process.pid, f"http://127.0.0.1:{port}"
        assert all(cpus == everything for cpus in _threads_cpus(pid))  # no job: every CPU it was given
        http, token = _admin(url)
        with sandbox.lock:  # the CRM answers nothing meanwhile: the pull's process keeps running
            answer = http.post(f"{url}/admin/whatif/crm", data={"crm": "hubspot", "csrf_token": token}, headers=FETCH)
            status_url = url + answer.json()["status_url"]
            assert wait_until(lambda: _jobs_process(pid) is not None, 30)
            child = _jobs_process(pid)
            assert child is not None and os.sched_getaffinity(child) == {jobs_cpu}
            assert all(jobs_cpu not in cpus for cpus in _threads_cpus(pid))
            assert _delivery(sandbox, f"{url}/webhooks/hubspot", "1001").status_code in (200, 204)  # and it serves
        job_ended(http, status_url)
        assert wait_until(lambda: all(cpus == everything for cpus in _threads_cpus(pid)), 10)
    finally:
        serve.stop()


@pytest.fixture
def service(sandbox: HubSpotSandbox, tmp_path: Path) -> Iterator[tuple[str, Runtime]]:
    """`serve`'s app with the console mounted under /admin, its worker not started (nothing to drain)."""
    env = {
        "HUBSPOT_ACCESS_TOKEN": TOKEN,
        "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "HUBSPOT_API_BASE": sandbox.base_url,
        "HUBSPOT_RATE_LIMIT": "1000/10",
        "LEADTHERM_DB": str(tmp_path / "leadtherm.db"),
        "LEADTHERM_ADMIN_SECRET": SECRET,
    }
    runtime = build_runtime(env, ["hubspot"], copy_packaged(tmp_path / "mappings"))
    runtime.plugins["hubspot"].setup(runtime.mappings["hubspot"], env)
    app = create_app(AppConfig(runtime.queue, routes_of(runtime, env)))
    assert mount_console(app, runtime, env)
    for url in serve_app(app):
        yield url, runtime


def _admin(url: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    token = csrf_of(http.get(f"{url}/admin/login", timeout=10).text)
    page = http.post(f"{url}/admin/login", data={"secret": SECRET, "name": "Ada", "csrf_token": token}, timeout=10)
    return http, csrf_of(page.text)


def _delivery(sandbox: HubSpotSandbox, url: str, contact: str) -> requests.Response:
    body = json.dumps([{
        "eventId": 1, "subscriptionId": 1, "portalId": sandbox.portal_id, "appId": 1,
        "occurredAt": int(time.time() * 1000), "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": int(contact), "propertyName": "hs_email_open", "propertyValue": "1", "changeSource": "CRM_UI",
    }]).encode()  # fmt: skip
    signer = HubSpotSandbox(access_token=TOKEN)
    signer.client_secret = HUBSPOT_SECRET
    return requests.post(url, data=body, headers=signer.signed_request(url, body), timeout=10)


def test_a_webhook_delivered_during_a_history_pull_is_acknowledged_before_the_pull_ends(
    sandbox: HubSpotSandbox, service: tuple[str, Runtime]
) -> None:
    url, runtime = service
    contacts = [sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"}) for n in range(30)]
    http, token = _admin(url)
    with sandbox.lock:  # the CRM answers nothing meanwhile: the pull cannot end before we let it
        answer = http.post(f"{url}/admin/whatif/crm", data={"crm": "hubspot", "csrf_token": token}, headers=FETCH)
        assert answer.status_code == 202
        status_url = url + answer.json()["status_url"]
        assert wait_until(lambda: job_status(http, status_url)["state"] == "running", 10)
        ack = _delivery(sandbox, f"{url}/webhooks/hubspot", contacts[0])
        assert ack.status_code in (200, 204)
        assert job_status(http, status_url)["state"] == "running"  # acknowledged while the pull still waits
    assert runtime.queue.stats().depth == 1
    job_ended(http, status_url)


def test_a_history_pull_spends_from_its_own_smaller_bucket_not_the_workers(
    sandbox: HubSpotSandbox, service: tuple[str, Runtime]
) -> None:
    url, runtime = service
    worker = runtime.clients["hubspot"]
    background = background_clients(runtime.clients)["hubspot"]
    assert isinstance(background, GuardedClient) and background.bucket is not None and worker.bucket is not None
    assert background.bucket is not worker.bucket
    assert background.bucket.rate == pytest.approx(worker.bucket.rate * BACKGROUND_SHARE)
    # The pull's child process connects on its own, with the same share of the same setting.
    own = background_bucket("hubspot", {"HUBSPOT_RATE_LIMIT": "1000/10"}, BACKGROUND_SHARE)
    assert own.rate == pytest.approx(worker.bucket.rate * BACKGROUND_SHARE)
    for n in range(150):
        sandbox.create_contact({**HOT, "email": f"p{n}@acme.example"})
    http, token = _admin(url)
    before = dict(worker.stats.calls)
    answer = http.post(f"{url}/admin/whatif/crm", data={"crm": "hubspot", "csrf_token": token}, headers=FETCH)
    status = job_ended(http, url + answer.json()["status_url"])
    # Every record was read (none converted, so the history is refused with the reason) ...
    assert (status["done"], status["total"]) == (150, 150)
    assert "no lead converted" in str(status["error"])
    # ... and none of those requests waited on, or counted against, the webhook worker's bucket.
    assert worker.stats.calls == before
