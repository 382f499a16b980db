"""`leadtherm sweep`: re-assess the records whose temperature is due to drop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from integration.cli.consoles import err, out
from integration.cli.exits import EXIT_FAILED
from integration.cli.options import CrmOption, MappingsOption, env
from integration.composition.runtime import build_runtime
from integration.service.sweep import enqueue_due
from integration.service.worker import drain


def sweep(
    crm: CrmOption = None,
    limit: Annotated[int, typer.Option(help="At most this many records per sweep.")] = 10_000,
    mappings: MappingsOption = None,
) -> None:
    """Re-assess the records whose temperature is due to drop, and write what changed."""
    runtime = build_runtime(env(), crm, mappings)
    due = enqueue_due(runtime.state, runtime.queue, datetime.now(UTC), limit)
    report = drain(runtime.pipeline)
    out.print(
        f"sweep: {len(due)} record(s) due, {report.records} assessed, {report.written} written, "
        f"{report.unchanged} unchanged, {report.dead_lettered} dead-lettered, {report.failed} failed"
    )
    for name, reason in report.paused.items():
        err.print(f"sweep: {name} paused: {reason}", markup=False)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)
