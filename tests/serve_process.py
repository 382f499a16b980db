"""`leadtherm serve` as a real child process, for the crash test and the soak benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from leadtherm_sandboxes.waiting import wait_until

LEADTHERM = [sys.executable, "-c", "from integration.cli import main; main()"]
LEASE_SECONDS = 45  # the shortest lease the retry policy fits in (a killed serve's leases come back at its restart)


class ServeProcess:
    """One `serve` on a port; its output to a log file, or discarded."""

    def __init__(self, port: int, env: dict[str, str], log: Path | None = None) -> None:
        self.port, self.env, self.log = port, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        command = [*LEADTHERM, "serve", "--port", str(self.port), "--visibility-timeout", str(LEASE_SECONDS)]
        if self.log is None:
            self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        if not wait_until(self.healthy, 30, step=0.1):
            raise RuntimeError("serve did not come up")

    def healthy(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def depth(self) -> int:
        return int(requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).json()["queue_depth"])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            self.process.wait(10)
