"""A worker that dies is logged (never with its values) and restarted; /healthz says so meanwhile."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.waiting import wait_until

from adapters.sqlite import SqliteWorkQueue
from harness.servers import serving
from tests.webhooks.routes import EchoRoute
from webhooks.app import AppConfig, create_app
from webhooks.supervisor import Supervisor, describe_crash


class FlakyLoop:
    """Dies on its first run (as a poison value killed the worker), then works until stopped."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.runs = 0
        self.may_die = threading.Event()

    def __call__(self) -> None:
        self.runs += 1
        if self.runs == 1:
            self.may_die.wait(5)
            raise OverflowError("cannot convert 'jane.doe@acme.example' revenue 1e400 to float")
        self.stop.wait()


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_a_dead_worker_is_logged_restarted_and_reported_by_healthz_meanwhile(
    tmp_path: Path, stop: threading.Event, caplog: pytest.LogCaptureFixture
) -> None:
    loop = FlakyLoop(stop)
    supervisor = Supervisor(stop, restart_delay=0.6, degraded_for=1.2, tick=0.05)
    supervisor.add("worker-0", loop)
    app = create_app(AppConfig(SqliteWorkQueue(tmp_path / "q.db"), [EchoRoute()], health_checks=[supervisor.health]))
    with caplog.at_level(logging.INFO, logger="leadtherm.supervisor"), serving(app) as url:
        supervisor.start()
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
        loop.may_die.set()
        assert wait_until(lambda: supervisor.restarts()["worker-0"] == 1, 5)
        down = requests.get(f"{url}/healthz", timeout=5)
        assert down.status_code == 503
        assert "worker-0 is down after a crash (OverflowError at" in down.json()["reasons"][0]
        assert wait_until(lambda: loop.runs == 2, 5), "the worker was not restarted"
        restarted = requests.get(f"{url}/healthz", timeout=5)
        assert restarted.status_code == 503
        assert "worker-0 crashed" in restarted.json()["reasons"][0]
        assert wait_until(lambda: requests.get(f"{url}/healthz", timeout=5).status_code == 200, 5)
    died = [r.getMessage() for r in caplog.records if "died" in r.getMessage()]
    assert len(died) == 1
    assert died[0].startswith("worker-0 died: OverflowError at test_supervisor.py:")
    assert "jane" not in caplog.text and "1e400" not in caplog.text


def test_a_loop_that_keeps_dying_waits_longer_each_time(stop: threading.Event) -> None:
    deaths: list[float] = []

    def always_dies() -> None:
        deaths.append(0.0)
        raise RuntimeError("boom")

    supervisor = Supervisor(stop, restart_delay=0.1, max_restart_delay=0.4, tick=0.02)
    supervisor.add("worker-0", always_dies)
    supervisor.start()
    assert wait_until(lambda: len(deaths) >= 4, 5)
    assert supervisor.health() is not None


def test_a_loop_that_returns_while_serving_counts_as_dead(stop: threading.Event) -> None:
    supervisor = Supervisor(stop, restart_delay=10, tick=0.02)
    supervisor.add("sweep", lambda: None)
    supervisor.start()
    assert wait_until(lambda: supervisor.restarts()["sweep"] == 1, 5)
    assert "sweep is down after a crash (returned while the server is running)" in (supervisor.health() or "")


def test_a_crash_is_described_by_its_type_and_place_never_its_message() -> None:
    try:
        int("alice@example.com")
    except ValueError as exc:
        text = describe_crash(exc)
    assert text.startswith("ValueError at test_supervisor.py:")
    assert "alice" not in text
