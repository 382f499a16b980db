"""Test helpers: the server `serve` runs, on an ephemeral port, and nginx as a TLS proxy in front."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from leadtherm_sandboxes.waiting import wait_until

from webhooks.server import ServerLimits, create_server

LEADTHERM = str(Path(sys.executable).parent / "leadtherm")  # the installed entry point
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@contextmanager
def serving(app: Any, limits: ServerLimits | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """The app on webhooks.server (as `serve` runs it) in a thread; yields its base URL."""
    server = create_server(app, host, 0, limits)
    thread = threading.Thread(target=server.run, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.effective_port}"
    finally:
        server.close()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Proxy:
    url: str  # the public base URL, https://127.0.0.1:PORT/hooks
    ca_file: Path  # what a client must trust to call it
    source: str  # the address nginx connects to the app from


_NGINX_CONF = """
daemon off;
master_process off;  # one process, as the user running the tests
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 2m;
    client_body_buffer_size 2m;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        # A typical TLS-terminating setup: the public prefix /hooks is removed and announced.
        location /hooks/ {{
            proxy_pass http://{upstream}/;
            proxy_bind {source};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Forwarded-Prefix /hooks;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""


@contextmanager
def nginx_in_front(upstream: str, folder: Path, port: int, source: str = "127.0.0.3") -> Iterator[Proxy]:
    """nginx terminating TLS on 127.0.0.1:`port`, forwarding /hooks/... to `upstream` (host:port) from `source`."""
    assert NGINX is not None
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    conf = _NGINX_CONF.format(dir=folder, port=port, upstream=upstream, source=source)
    (folder / "nginx.conf").write_text(conf, encoding="utf-8")
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        assert wait_until(lambda: _tls_ready(port, context) or process.poll() is not None, 10)
        assert process.poll() is None, f"nginx did not start: {process.stderr.read() if process.stderr else ''!r}"
        yield Proxy(f"https://127.0.0.1:{port}/hooks", folder / "ca.pem", source)
    finally:
        process.terminate()
        process.wait(10)


def _tls_ready(port: int, context: ssl.SSLContext) -> bool:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        time.sleep(0.05)
        return False


class _CommandProcess:
    """A running `leadtherm COMMAND --port 0 ...`, its stderr collected line by line until it says where it listens."""

    what = "leadtherm"

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path | None) -> None:
        self.process = subprocess.Popen(
            [LEADTHERM, *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        assert wait_until(lambda: self.url is not None or self.process.poll() is not None, 30)
        assert self.url is not None, f"{self.what} did not start: {self.lines}"

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str | None:
        """http://127.0.0.1:PORT, from the line the command prints once it listens."""
        for line in self.lines:
            if (found := self._listening(line)) is not None:
                return "http://" + found
        return None

    def _listening(self, line: str) -> str | None:
        raise NotImplementedError

    def stop(self) -> list[str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)
        self.reader.join(5)
        return self.lines


class Serve(_CommandProcess):
    """A running `leadtherm serve --port 0`."""

    what = "serve"

    def __init__(self, env: dict[str, str], *args: str, cwd: Path | None = None) -> None:
        super().__init__(["serve", "--port", "0", *args], env, cwd)

    def _listening(self, line: str) -> str | None:
        return line.split(" on http://", 1)[1].split(";", 1)[0] if " serving " in line else None


class ConsoleProcess(_CommandProcess):
    """A running `leadtherm console --port 0 --mappings FOLDER --init`."""

    what = "the console"

    def __init__(self, env: dict[str, str], folder: Path, *args: str, cwd: Path | None = None) -> None:
        super().__init__(["console", "--port", "0", "--mappings", str(folder), "--init", *args], env, cwd)

    def _listening(self, line: str) -> str | None:
        return line.split("console on http://", 1)[1].split("/", 1)[0] if "console on http://" in line else None


def export_of_size(size: int) -> bytes:
    """A readable HubSpot contacts export of about `size` bytes: one short row repeated (an upload to preview)."""
    row = b"1001,Chief Executive Officer\n"
    return b"hs_object_id,jobtitle\n" + row * max(1, (size - 22) // len(row))
