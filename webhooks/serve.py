"""`leadtherm serve`: the webhook app on waitress, plus the worker and the periodic sweep."""

from __future__ import annotations

import logging
import os
import re
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer
import waitress

from integration.errors import LeadthermError
from integration.inbound import InboundRoute
from integration.pipeline import PipelineSettings
from integration.runtime import Runtime, build_runtime
from integration.sweep import enqueue_due
from integration.worker import run_worker
from webhooks.app import AppConfig, create_app

log = logging.getLogger("leadtherm.serve")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """'90s', '15m', '1h', '1d' or plain seconds -> seconds."""
    match = _INTERVAL.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"{text!r} is not an interval like 30s, 15m, 1h")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def routes_of(runtime: Runtime, env: dict[str, str]) -> list[InboundRoute]:
    return [r for name, p in runtime.plugins.items() for r in p.routes(runtime.mappings[name], env)]


def _sweep_loop(runtime: Runtime, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        due = enqueue_due(runtime.state, runtime.queue, datetime.now(UTC))
        if due:
            log.info("sweep queued %d record(s) whose temperature is due to drop", len(due))


def start_background(
    runtime: Runtime, stop: threading.Event, workers: int, sweep_every: float | None
) -> list[threading.Thread]:
    """Worker threads (and the sweep) sharing the runtime; they end when `stop` is set."""
    threads = [
        threading.Thread(target=run_worker, args=(runtime.pipeline, stop), name=f"worker-{i}", daemon=True)
        for i in range(workers)
    ]
    if sweep_every:
        threads.append(
            threading.Thread(target=_sweep_loop, args=(runtime, sweep_every, stop), name="sweep", daemon=True)
        )
    for thread in threads:
        thread.start()
    return threads


def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    crm: Annotated[list[str] | None, typer.Option(help="CRM(s) to serve (default: every configured one).")] = None,
    sweep_every: Annotated[str | None, typer.Option("--sweep-every", help="Run the sweep this often, e.g. 1h.")] = None,
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 1,
    threads: Annotated[int, typer.Option(help="HTTP threads.")] = 8,
    mappings: Annotated[str | None, typer.Option(help="Folder of mapping files.")] = None,
    visibility_timeout: Annotated[
        float, typer.Option(help="Seconds before a batch leased by a worker that died is processed again.")
    ] = 120.0,
) -> None:
    """Run the webhook app (waitress) and the worker on the embedded backend."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    interval = parse_interval(sweep_every) if sweep_every else None
    try:
        runtime = build_runtime(env, crm, mappings, PipelineSettings(visibility_timeout=visibility_timeout))
    except LeadthermError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    app = create_app(AppConfig(runtime.queue, routes_of(runtime, env)))
    stop = threading.Event()
    start_background(runtime, stop, workers, interval)
    log.info("serving %s on http://%s:%d", ", ".join(runtime.plugins), host, port)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="leadtherm", _quiet=True)
    finally:
        stop.set()
