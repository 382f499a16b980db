"""`leadtherm backfill CRM`: score every existing record once, resumably."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from integration.cli.consoles import err, out
from integration.cli.options import CrmArgument, MappingsOption, env
from integration.composition.plugins import load_crm
from integration.composition.runtime import build_runtime, check_outputs
from integration.service.backfill import backfill, resumed_at, start_over


def backfill_command(
    crm: CrmArgument,
    page_size: Annotated[int, typer.Option(help="Records per page (the CRM's batch size).")] = 100,
    restart: Annotated[bool, typer.Option(help="Ignore the saved cursor and start from the top.")] = False,
    mappings: MappingsOption = None,
) -> None:
    """Score every existing record once; resumable after Ctrl-C or a crash."""
    load_crm(crm)  # an unknown name first: "unknown CRM", not a missing mapping file
    runtime = build_runtime(env(), [crm], mappings)
    check_outputs(runtime, [crm])  # says "run leadtherm setup <crm>" before any page is read
    objects = runtime.mappings[crm].objects
    if restart:
        start_over(runtime.state, crm, objects)
    client = runtime.clients[crm]
    counts = [client.count(o) for o in objects]
    total = None if None in counts else sum(c or 0 for c in counts)
    resumed = resumed_at(runtime.state, crm, objects)
    if resumed is not None:
        err.print(
            f"backfill {crm}: resuming at {resumed}/{total if total is not None else '?'} "
            "(an earlier run was interrupted; --restart starts from the top)",
            markup=False,
        )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(f"backfill {crm}", total=total, rate="-", completed=resumed or 0)
        start = resumed or 0

        def advance(_: str, n: int) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[task].elapsed or 0.0
            done = progress.tasks[task].completed - start  # this run's rate, not the interrupted one's
            progress.update(task, rate=f"{done / elapsed:.0f}" if elapsed else "-")

        try:
            report = backfill(runtime.pipeline, crm, objects, runtime.state, runtime.queue, page_size, advance)
        except KeyboardInterrupt:
            at = int(progress.tasks[task].completed)
            progress.stop()
            err.print(
                f"backfill {crm} interrupted at {at}/{total if total is not None else '?'}: every page it finished "
                f"is saved; run `leadtherm backfill {crm}` again to resume there",
                markup=False,
            )
            raise typer.Exit(130) from None
    stats = client.stats
    out.print(
        f"backfill {crm}: {report.records} assessed, {report.written} written, {report.unchanged} unchanged, "
        f"{report.failed} failed (queued for retry); {stats.total} API calls, {stats.rate_limited} rate-limited"
    )
    for reason in report.paused.values():
        err.print(f"backfill {crm} stopped: {reason}; run it again once fixed, it resumes there", markup=False)
    if report.failed or report.paused:
        raise typer.Exit(1)
