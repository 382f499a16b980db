"""`leadtherm serve` whose SQLite file vanishes or whose disk fills: nothing is acknowledged that would not last."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from leadtherm_sandboxes.waiting import wait_until

from harness.servers import Serve
from tests.webhooks.hubspot_deliveries import deliver, portal, serve_env

__all__ = ["portal"]


def _health(serve: Serve) -> tuple[int, list[str]]:
    answer = requests.get(f"{serve.url}/healthz", timeout=5)
    return answer.status_code, list(answer.json()["reasons"])


def _remove_database(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_under_serve_gets_503_until_the_operator_restarts(
    portal: HubSpotSandbox, tmp_path: Path, fault: str
) -> None:
    db = tmp_path / "leadtherm.db"
    env = serve_env(portal, db)
    serve = Serve(env)
    try:
        assert serve.url is not None
        assert deliver(serve.url).status_code == 204
        if fault == "deleted":
            _remove_database(db)
        else:
            shutil.copy(db, tmp_path / "other.db")
            (tmp_path / "other.db").replace(db)  # a restore from a backup, under the running process
        answers = [deliver(serve.url).status_code for _ in range(5)]
        status, reasons = _health(serve)
    finally:
        lines = serve.stop()
    assert answers == [503] * 5, lines[-5:]
    assert status == 503
    assert any(f"was {fault}" in r and "restart" in r for r in reasons), reasons
    restarted = Serve(env)
    try:
        assert restarted.url is not None
        assert deliver(restarted.url).status_code == 204
        assert _health(restarted)[0] == 200
    finally:
        restarted.stop()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (mounting needs root; skipped otherwise)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(handle, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(handle)
    return filler


def test_on_a_full_disk_deliveries_get_503_and_healthz_is_degraded_until_writes_succeed(
    portal: HubSpotSandbox, tiny_disk: Path
) -> None:
    env = serve_env(portal, tiny_disk / "leadtherm.db")
    serve = Serve(env)
    try:
        assert serve.url is not None
        assert deliver(serve.url).status_code == 204
        filler = _fill(tiny_disk)
        answers = [deliver(serve.url).status_code for _ in range(20)]
        status, reasons = _health(serve)
        filler.unlink()
        assert wait_until(lambda: deliver(str(serve.url)).status_code == 204, 10)
        assert wait_until(lambda: _health(serve)[0] == 200, 10)
    finally:
        serve.stop()
    assert 503 in answers and 204 not in answers[answers.index(503) :], answers
    assert status == 503
    assert any("fail" in r and "full" in r for r in reasons), reasons
