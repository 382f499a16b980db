"""`leadtherm sandbox CRM` as a real child process, and the settings it prints (tests of trying leadtherm offline)."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from leadtherm_sandboxes.waiting import wait_until

from harness.servers import free_port

BIN = Path(sys.executable).parent  # where the installed `leadtherm` is
LEADTHERM = str(BIN / "leadtherm")
TRACEBACK = "Traceback (most recent call last)"
# Variables a developer's shell (or another test) may hold that would change what a command sees.
CLEARED = ("HUBSPOT_", "SALESFORCE_", "LEADTHERM_", "REQUESTS_CA_BUNDLE", "COLUMNS")
REP_LINE = "a rep's change (not leadtherm's own): "


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CRM or leadtherm settings, the installed leadtherm first on PATH."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    return {**base, "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}", **extra}


def free_port_pair() -> int:
    """A free port whose successor is free too (the Salesforce sandbox serves Pub/Sub on port + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


class SandboxProcess:
    """A running sandbox: `settings` holds its `export` lines, `rep_command` the curl line it prints."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env or clean_env(), cwd=cwd
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        ready = wait_until(lambda: self.rep_command is not None or self.process.poll() is not None, 60, step=0.05)
        assert ready and self.rep_command is not None, f"the sandbox did not start: {self.lines}"

    @classmethod
    def of(cls, *args: str, cwd: Path | None = None) -> SandboxProcess:
        return cls([LEADTHERM, "sandbox", *args], cwd=cwd)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def settings(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in list(self.lines):
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                found[name] = shlex.split(value)[0]
        return found

    @property
    def rep_command(self) -> str | None:
        return next((line.removeprefix(REP_LINE) for line in list(self.lines) if line.startswith(REP_LINE)), None)

    @property
    def rep_url(self) -> str:
        """The record URL of the printed curl line: `https://…/sandbox/rep/Lead/<id>`."""
        assert self.rep_command is not None
        return next(word for word in shlex.split(self.rep_command) if "/sandbox/rep/" in word)

    def stop(self) -> list[str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)
        self.reader.join(5)
        return self.lines
