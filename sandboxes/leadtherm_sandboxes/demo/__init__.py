"""`leadtherm demo`: the whole product on this machine, against local CRM sandboxes.

It starts the sandboxes, runs `setup`, serves the webhook app and a worker on a temporary
SQLite file, seeds believable contacts, streams their activity (and a rep's qualification
answers), warps time so that silent leads cool down through a sweep, and ends with a summary.
No account and no network beyond 127.0.0.1.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import waitress
from rich.live import Live
from rich.table import Table

from integration.cli.report import make_console
from integration.composition.intakes import intakes_of, start_intakes
from integration.composition.routes import routes_of
from integration.composition.runtime import build_runtime
from integration.service.pipeline import BatchReport
from integration.service.sweep import enqueue_due
from integration.service.worker import run_worker
from leadtherm_sandboxes.demo.live import Tally, distribution, screen
from leadtherm_sandboxes.demo.people import personas
from webhooks.app import AppConfig, create_app

console = make_console()
SANDBOXES = ("hubspot", "salesforce")
INTAKES = ("push", "journal")
WARP = timedelta(days=45)


class WarpClock:
    """Real time plus an offset the demo moves forward to show decay."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _sides(clock: WarpClock, seed: int, crms: list[str], intake: str) -> list[Any]:
    sides: list[Any] = []
    if "hubspot" in crms:
        from leadtherm_sandboxes.demo.hubspot_side import HubSpotDemo

        sides.append(HubSpotDemo(clock, seed, journal=intake == "journal"))
    if "salesforce" in crms:
        try:
            from leadtherm_sandboxes.demo.salesforce_side import SalesforceDemo
        except ImportError:
            console.print("[yellow]Salesforce sandbox not available; showing HubSpot only[/]")
        else:
            sides.append(SalesforceDemo(clock, seed))
    return sides


def _known_sandboxes(names: list[str] | None) -> list[str] | None:
    unknown = [n for n in names or [] if n not in SANDBOXES]
    if unknown:
        raise typer.BadParameter(f"no demo sandbox for {', '.join(map(repr, unknown))} (known: {', '.join(SANDBOXES)})")
    return names


def _known_intake(name: str) -> str:
    if name not in INTAKES:
        raise typer.BadParameter(f"{name!r} is no intake (known: {', '.join(INTAKES)})")
    return name


def demo(
    duration: Annotated[float, typer.Option(min=1, help="Seconds to stream activity before the summary.")] = 60.0,
    contacts: Annotated[int, typer.Option(min=1, max=100_000, help="Records seeded in each CRM.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same story.")] = 7,
    crm: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME", callback=_known_sandboxes, help="Which sandboxes (default: hubspot and salesforce)."
        ),
    ] = None,
    intake: Annotated[
        str,
        typer.Option(
            metavar="push|journal",
            callback=_known_intake,
            help="How HubSpot's changes arrive: pushed webhooks, or pulled from the webhooks journal.",
        ),
    ] = "push",
) -> None:
    """Run the whole product against local HubSpot and Salesforce sandboxes; no account needed."""
    rng = random.Random(seed)
    clock = WarpClock()
    tally = Tally()
    stop = threading.Event()
    sides = _sides(clock, seed, crm or ["hubspot", "salesforce"], intake)
    with tempfile.TemporaryDirectory() as tmp:
        env: dict[str, str] = {"LEADTHERM_DB": str(Path(tmp) / "leadtherm.db")}
        try:
            for side in sides:
                env.update(side.start())
            runtime = build_runtime(env, [s.name for s in sides], clock=clock)
            for side in sides:
                report = runtime.plugins[side.name].setup(runtime.mappings[side.name], env)
                console.print(f"setup {side.label}: {len(report.created)} created, {len(report.unchanged)} existed")
            server = waitress.create_server(
                create_app(AppConfig(runtime.queue, routes_of(runtime, env))), host="127.0.0.1", port=0, threads=8
            )
            app_url = f"http://127.0.0.1:{server.effective_port}"
            threading.Thread(target=server.run, name="http", daemon=True).start()

            def on_report(report: BatchReport) -> None:
                tally.add(report, time.monotonic())

            for i in range(2):
                threading.Thread(
                    target=run_worker, args=(runtime.pipeline, stop, 0.05, on_report), name=f"worker-{i}", daemon=True
                ).start()
            # Pull intakes (HubSpot's journal when asked for): they read what the sides change from here on.
            start_intakes(intakes_of(runtime, env), stop)
            for side in sides:
                side.connect(app_url)
                side.seed(personas(contacts, rng))
            try:
                console.print(
                    f"serving on {app_url}; seeded {contacts} records per CRM; streaming for {duration:.0f} s"
                )
                _stream(sides, rng, clock, runtime, tally, duration)
            except KeyboardInterrupt:  # Ctrl-C ends the streaming early; the summary still comes
                console.print("interrupted: finishing the queued events, then the summary (Ctrl-C again to quit)")
            try:
                _drain(runtime, timeout=15.0)
            except KeyboardInterrupt:
                console.print("not waiting for the last queued events")
            _summary(sides, runtime, tally)
        finally:
            stop.set()
            for side in sides:
                side.stop()


def _stream(
    sides: list[Any], rng: random.Random, clock: WarpClock, runtime: Any, tally: Tally, duration: float
) -> None:
    started = time.monotonic()
    # transient: the final tables are printed once, with the summary, after the last events are in.
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        _frames(live, sides, rng, clock, runtime, tally, duration, started)


def _frames(
    live: Live,
    sides: list[Any],
    rng: random.Random,
    clock: WarpClock,
    runtime: Any,
    tally: Tally,
    duration: float,
    started: float,
) -> None:
    warped = False
    note = ""
    seen: dict[tuple[str, str], str | None] = {}
    while (elapsed := time.monotonic() - started) < duration:
        if not warped and elapsed > duration * 0.6:
            warped = True
            clock.offset += WARP
            due = enqueue_due(runtime.state, runtime.queue, clock())
            note = f"time warp +{WARP.days} days: sweep re-scored {len(due)} silent leads"
        for side in sides:
            acted = side.act(rng)
            if acted is not None:
                record_id, what = acted
                tally.changed(f"{side.name}:{record_id}", time.monotonic(), f"{side.label} {record_id}: {what}")
        tables = []
        for side in sides:
            temperatures = side.temperatures()
            for record_id, temperature in temperatures.items():
                before = seen.get((side.name, record_id))
                if temperature is not None and temperature != before:
                    tally.moved(f"{side.label} {record_id}: {before or 'unscored'} -> {temperature}")
                seen[(side.name, record_id)] = temperature
            tables.append(distribution(side.label, temperatures))
        live.update(screen(tables, tally, elapsed, duration, note))
        time.sleep(0.25)


def _drain(runtime: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and runtime.queue.stats().depth:
        time.sleep(0.2)


def _summary(sides: list[Any], runtime: Any, tally: Tally) -> None:
    table = Table(title="leadtherm demo: summary", header_style="bold")
    table.add_column("measure")
    table.add_column("value", justify="right")
    calls = sum(client.stats.total for client in runtime.clients.values())
    limited = sum(client.stats.rate_limited for client in runtime.clients.values())
    p95 = tally.p95()
    rows = [
        ("events received", tally.events),
        ("records assessed", tally.records),
        ("records written", tally.written),
        ("fields written", tally.fields),
        ("echoes of our own writes dropped", tally.echoes),
        ("API calls", calls),
        ("429s seen", limited),
        ("p95 time from change to written field", "-" if p95 is None else f"{p95:.2f} s"),
        ("dead letters", runtime.queue.stats().dead_letters),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(*[distribution(side.label, side.temperatures()) for side in sides], table)
