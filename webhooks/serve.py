"""`leadtherm serve`: the webhook app on waitress, plus the supervised worker(s) and the sweep."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

import typer

from integration.composition.intakes import intakes_of, start_intakes
from integration.composition.routes import check_verification, routes_by_crm
from integration.composition.runtime import Runtime, build_runtime, check_outputs
from integration.composition.settings import interval_seconds, load_settings
from integration.errors import CrmError, LeadthermError, OutputFieldsMissing
from integration.ports.metrics import use_metrics
from integration.service.pipeline import PipelineSettings
from integration.service.sweep import enqueue_due
from integration.service.worker import run_worker
from webhooks import logs
from webhooks.app import AppConfig, create_app
from webhooks.console.app import flush_refused_logins, upload_area
from webhooks.console.command import mount_console
from webhooks.forwarding import proxy_policy
from webhooks.metrics_prometheus import PrometheusMetrics, intake_lag, mount_metrics, queue_gauges
from webhooks.server import ServerLimits, check_port, create_server, serve_until, stop_on_signals, tune_for_serving
from webhooks.supervisor import Supervisor

log = logging.getLogger("leadtherm.serve")
MAX_EVENT_AGE_ENV = "LEADTHERM_MAX_EVENT_AGE"
DEFAULT_MAX_EVENT_AGE = "15m"


class ServeConfigError(LeadthermError):
    """`serve` was started with settings it cannot run with (exit 2, one line)."""


def _check_outputs_at_start(runtime: Runtime) -> None:
    """Refuse to serve a CRM whose output fields do not exist; an unreachable CRM only warns (it pauses)."""
    try:
        check_outputs(runtime)
    except OutputFieldsMissing:
        raise
    except CrmError as exc:
        log.warning("could not check the output fields at start (%s); processing pauses until the CRM answers", exc)


def parse_interval(text: str, source: str = "interval") -> float:
    """'90s', '15m', '1h', '1d' or plain seconds -> seconds."""
    seconds = interval_seconds(text)
    if seconds is None:
        raise ServeConfigError(f"{source}: {text!r} is not an interval like 30s, 15m, 1h")
    return seconds


def _sweep_loop(runtime: Runtime, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        due = enqueue_due(runtime.state, runtime.queue, datetime.now(UTC))
        if due:
            log.info("sweep queued %d record(s) whose temperature is due to drop", len(due))


def _max_event_age(option: str | None, env: Mapping[str, str]) -> float:
    if option:
        return parse_interval(option, "--max-event-age")
    return parse_interval(env.get(MAX_EVENT_AGE_ENV) or DEFAULT_MAX_EVENT_AGE, MAX_EVENT_AGE_ENV)


def serve(
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8080,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    crm: Annotated[list[str] | None, typer.Option(help="CRM(s) to serve (default: every configured one).")] = None,
    sweep_every: Annotated[str | None, typer.Option("--sweep-every", help="Run the sweep this often, e.g. 1h.")] = None,
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 1,
    threads: Annotated[int, typer.Option(help="HTTP threads.")] = 8,
    mappings: Annotated[str | None, typer.Option(help="Folder of mapping files.")] = None,
    visibility_timeout: Annotated[
        float, typer.Option(help="Seconds before a batch leased by a worker that died is processed again.")
    ] = 120.0,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            help="IP or network of the TLS proxy whose X-Forwarded-* headers count (repeatable; "
            "env LEADTHERM_TRUSTED_PROXIES).",
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="The base URL the CRMs call, e.g. https://hooks.example.com (env LEADTHERM_PUBLIC_URL).",
        ),
    ] = None,
    max_event_age: Annotated[
        str | None,
        typer.Option(
            "--max-event-age",
            help=f"/healthz is degraded once an event waits longer (env {MAX_EVENT_AGE_ENV}; "
            f"default {DEFAULT_MAX_EVENT_AGE}).",
        ),
    ] = None,
) -> None:
    """Run the webhook app (waitress) and the worker on the embedded backend."""
    repeats = logs.configure()
    env = load_settings()
    sink = PrometheusMetrics()
    use_metrics(sink)  # before the runtime: its first CRM calls count too
    stop = threading.Event()
    supervisor = Supervisor(stop, on_tick=repeats.flush)
    try:
        check_port(port)
        interval = parse_interval(sweep_every, "--sweep-every") if sweep_every else None
        policy = proxy_policy(env, trusted_proxy, public_url)
        runtime = build_runtime(env, crm, mappings, PipelineSettings(visibility_timeout=visibility_timeout))
        routes = routes_by_crm(runtime, env)
        unverifiable = check_verification(routes)
        _check_outputs_at_start(runtime)
        checks = [supervisor.health, runtime.pipeline.health]
        storage = getattr(runtime.queue, "health", None)  # the embedded backend: a vanished file, a full disk
        if callable(storage):
            checks.append(storage)
        # The CRMs' change feeds (e.g. CDC), each in its own thread, healthy or not in /healthz, lag in /metrics.
        for running in start_intakes(intakes_of(runtime, env), stop):
            checks.append(running.health)
            sink.on_scrape(intake_lag(running.intake.crm, running.name, running.intake.lag_seconds))
        sink.on_scrape(queue_gauges(runtime.queue))
        config = AppConfig(
            runtime.queue,
            [r for crm_routes in routes.values() for r in crm_routes],
            proxy=policy,
            health_checks=checks,
            max_event_age=_max_event_age(max_event_age, env),
        )
        app = create_app(config)
        mount_metrics(app, sink, env)
        sink.preset(crm=list(runtime.plugins), route=[route.path for route in config.routes])
        console = mount_console(app, runtime, env, mappings)
        if console:
            log.info("admin console under /admin")
        # Bound before anything says "serving": a busy port is one line and exit 2. Webhooks stay
        # at 1 MiB; only a logged-in console upload is read up to its own limit.
        tune_for_serving()
        limits = ServerLimits(threads=threads, uploads=upload_area(app) if console else None)
        server = create_server(app, host, port, limits)
    except LeadthermError as exc:
        stop.set()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for path, reason in unverifiable:
        log.warning("%s cannot verify deliveries (%s): every delivery to it will be refused with 401", path, reason)
    for i in range(workers):
        supervisor.add(f"worker-{i}", lambda: run_worker(runtime.pipeline, stop))
    if interval:
        supervisor.add("sweep", lambda: _sweep_loop(runtime, interval, stop))
    supervisor.start()
    # Consoles editing this rules store see that a running service reads it.
    marking = runtime.rules_provider.keep_marking(stop) if runtime.rules_provider else None
    stopping = stop_on_signals()
    bound = str(server.effective_host)
    log.info(
        "serving %s on http://%s:%s; %s",
        ", ".join(runtime.plugins),
        f"[{bound}]" if ":" in bound else bound,
        server.effective_port,
        policy.describe(),
    )
    try:
        serve_until(server, stopping)
    finally:
        stop.set()  # the workers and the intakes, once every delivery has its answer
        flush_refused_logins(app)
        if marking is not None:
            marking.join(timeout=2)  # removes the mark: consoles stop promising this service
        log.info("stopped")
        repeats.flush(everything=True)
