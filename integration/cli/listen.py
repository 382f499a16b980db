"""`leadtherm listen CRM`: a CRM's background intakes (its change feeds) as a long-running process."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from integration.cli.exits import EXIT_FAILED
from integration.cli.options import CrmArgument, MappingsOption, env


def listen(
    crm: CrmArgument,
    workers: Annotated[
        int, typer.Option(help="Worker threads processing the queue here too (0: `serve` or the SQS worker does).")
    ] = 0,
    mappings: MappingsOption = None,
) -> None:
    """Run a CRM's background intakes (e.g. change data capture): queue what they read, resume where they stopped."""
    from integration.composition.intakes import NoIntakeEnabled, intakes_of, start_intakes
    from integration.composition.runtime import build_runtime
    from integration.log_format import configure_log_lines
    from integration.service.worker import run_worker

    settings = env()
    configure_log_lines(logging.INFO, settings)
    runtime = build_runtime(settings, [crm], mappings)
    intakes = intakes_of(runtime, settings)
    if not intakes:
        raise NoIntakeEnabled(crm)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    for index in range(workers):
        threading.Thread(target=run_worker, args=(runtime.pipeline, stop), name=f"worker-{index}", daemon=True).start()
    running = start_intakes(intakes, stop)
    try:
        # Until stopped, or until an intake gave up: the process then exits and whatever runs it notices.
        while not stop.is_set() and all(r.thread.is_alive() for r in running):
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    stop.set()
    for r in running:
        r.thread.join(10)
    failed = [r for r in running if r.failure is not None]
    if failed:
        typer.echo(f"error: {failed[0].failure}", err=True)
        raise typer.Exit(EXIT_FAILED)
