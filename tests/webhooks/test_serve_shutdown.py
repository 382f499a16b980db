"""`leadtherm serve` stopped under load: it stops accepting, answers what is in flight, and exits cleanly."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until
from urllib3.exceptions import NewConnectionError

from harness.servers import Serve
from tests.webhooks.hubspot_deliveries import deliver, portal, serve_env

__all__ = ["portal"]


@pytest.fixture
def env(portal: HubSpotSandbox, tmp_path: Path) -> dict[str, str]:
    return serve_env(portal, tmp_path / "leadtherm.db")


def _refused_at_connect(exc: requests.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def test_sigterm_under_load_answers_every_accepted_request_and_exits_0_without_tracebacks(
    env: dict[str, str],
) -> None:
    serve = Serve(env, "--threads", "4")
    assert serve.url is not None
    base = serve.url
    outcomes: list[str] = []  # "204", "refused" or what else happened
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                answer = deliver(base)
                outcomes.append(str(answer.status_code))
            except requests.ConnectionError as exc:
                outcomes.append("refused" if _refused_at_connect(exc) else f"{type(exc).__name__}: {exc}")

    clients = [threading.Thread(target=client) for _ in range(6)]
    for thread in clients:
        thread.start()
    try:
        assert wait_until(lambda: len(outcomes) >= 100, 30)
        serve.process.send_signal(signal.SIGTERM)
        code = serve.process.wait(20)
        assert wait_until(lambda: outcomes.count("refused") >= 6, 10)  # every client met the closed port
    finally:
        done.set()
        for thread in clients:
            thread.join(15)
    lines = serve.stop()
    log = "\n".join(lines)
    others = sorted({o for o in outcomes if o not in ("204", "refused")})
    assert not others, others[:5]  # no request was accepted and then left without its answer
    assert code == 0, log[-3000:]
    assert "Traceback" not in log and "Bad file descriptor" not in log, log[-3000:]
    assert any(line.endswith("stopped") for line in lines[-3:])
    assert outcomes.count("204") >= 100
