"""The `leadtherm` command line."""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from integration import __version__
from integration.backfill import backfill, cursor_name
from integration.errors import ConfigError, LeadthermError, MappingError
from integration.exports import read_export
from integration.normalize import Normalizer
from integration.plugins import extra_commands, load_crm
from integration.ports import RecordRef
from integration.report import (
    ScoredRow,
    print_dead_letters,
    print_distribution,
    print_explanation,
    print_setup,
    write_rows,
)
from integration.runtime import build_runtime, check_outputs, open_backend
from integration.scoring import assess
from integration.sweep import enqueue_due
from integration.worker import drain
from mappings.loader import check_folder, load_mapping, load_rules

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Lead qualification for HubSpot and Salesforce.",
)
out = Console()
err = Console(stderr=True)

MappingsOption = Annotated[
    Path | None,
    typer.Option("--mappings", help="Folder of mapping files (default: $LEADTHERM_MAPPINGS or packaged)."),
]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _version(value: bool) -> None:
    if value:
        out.print(f"leadtherm {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Score, classify and explain leads in your CRM."""


@app.command()
def check(mappings: MappingsOption = None) -> None:
    """Validate the mapping and scoring files; one line per problem with file, line and field."""
    problems = check_folder(mappings)
    for problem in problems:
        typer.echo(str(problem), err=True)  # one unwrapped line each: scripts and editors parse them
    if problems:
        err.print(f"{len(problems)} problem(s) found", style="red")
        raise typer.Exit(2)
    out.print("mapping and scoring files are valid", style="green")


@app.command()
def score(
    file: Annotated[Path, typer.Argument(help="CRM export: CSV with the CRM's field names, or JSON records.")],
    crm: Annotated[str, typer.Option(help="Which CRM the export comes from (hubspot, salesforce).")] = "hubspot",
    output: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    as_of: Annotated[datetime | None, typer.Option("--as-of", help="Score as of this time (default: now).")] = None,
    summary: Annotated[bool, typer.Option(help="Print the temperature distribution after the rows.")] = False,
    mappings: MappingsOption = None,
) -> None:
    """Score a CRM export offline through the same mappings the live integration uses."""
    rules = load_rules(mappings)
    mapping = load_mapping(crm, mappings)
    plugin = load_crm(crm)
    normalizer = Normalizer(mapping)
    now = _utc(as_of) if as_of else datetime.now(UTC)
    rows: list[ScoredRow] = []
    rejected = 0
    for row in read_export(file):
        object_type, flat = plugin.flatten(row.record)
        try:
            lead = normalizer.lead(flat, object_type)
        except MappingError as exc:
            rejected += 1
            typer.echo(f"{file}: {row.position}, column {exc.field}: {exc.reason} (row skipped)", err=True)
            continue
        rows.append(ScoredRow(lead.record_id, assess(lead, rules, now)))
    write_rows(out, rows, output.value)
    if summary:
        print_distribution(out, Counter(r.assessment.temperature for r in rows), title=f"{crm}: {file.name}")
    if rejected:
        err.print(f"{rejected} row(s) skipped, {len(rows)} scored", style="yellow")
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- live commands

CrmOption = Annotated[list[str] | None, typer.Option("--crm", help="CRM(s) to use (default: every configured one).")]


def _env() -> dict[str, str]:
    return dict(os.environ)


@app.command()
def sweep(
    crm: CrmOption = None,
    limit: Annotated[int, typer.Option(help="At most this many records per sweep.")] = 10_000,
    mappings: MappingsOption = None,
) -> None:
    """Re-assess the records whose temperature is due to drop, and write what changed."""
    runtime = build_runtime(_env(), crm, mappings)
    due = enqueue_due(runtime.state, runtime.queue, datetime.now(UTC), limit)
    report = drain(runtime.pipeline)
    out.print(
        f"sweep: {len(due)} record(s) due, {report.records} assessed, {report.written} written, "
        f"{report.unchanged} unchanged, {report.dead_lettered} dead-lettered, {report.failed} failed"
    )
    for name, reason in report.paused.items():
        err.print(f"sweep: {name} paused: {reason}", markup=False)
    if report.failed:
        raise typer.Exit(1)


@app.command(name="backfill")
def backfill_command(
    crm: Annotated[str, typer.Argument(help="hubspot or salesforce")],
    page_size: Annotated[int, typer.Option(help="Records per page (the CRM's batch size).")] = 100,
    restart: Annotated[bool, typer.Option(help="Ignore the saved cursor and start from the top.")] = False,
    mappings: MappingsOption = None,
) -> None:
    """Score every existing record once; resumable after Ctrl-C or a crash."""
    runtime = build_runtime(_env(), [crm], mappings)
    check_outputs(runtime, [crm])  # says "run leadtherm setup <crm>" before any page is read
    objects = runtime.mappings[crm].objects
    if restart:
        for object_type in objects:
            runtime.state.set_cursor(cursor_name(crm, object_type), None)
    client = runtime.clients[crm]
    counts = [client.count(o) for o in objects]
    total = None if None in counts else sum(c or 0 for c in counts)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}/s"),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(f"backfill {crm}", total=total, rate="-")

        def advance(_: str, n: int) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[task].elapsed or 0.0
            done = progress.tasks[task].completed
            progress.update(task, rate=f"{done / elapsed:.0f}" if elapsed else "-")

        report = backfill(runtime.pipeline, crm, objects, runtime.state, runtime.queue, page_size, advance)
    stats = client.stats
    out.print(
        f"backfill {crm}: {report.records} assessed, {report.written} written, {report.unchanged} unchanged, "
        f"{report.failed} failed (queued for retry); {stats.total} API calls, {stats.rate_limited} rate-limited"
    )
    for reason in report.paused.values():
        err.print(f"backfill {crm} stopped: {reason}; run it again once fixed, it resumes there", markup=False)
    if report.failed or report.paused:
        raise typer.Exit(1)


@app.command()
def explain(
    crm: Annotated[str, typer.Argument(help="hubspot or salesforce")],
    record_id: Annotated[str, typer.Argument(help="The record's id in the CRM.")],
    mappings: MappingsOption = None,
) -> None:
    """Print the last assessment of a record: points per rule, temperature, stage, history."""
    mapping = load_mapping(crm, mappings)
    _, state = open_backend(_env())
    refs = [RecordRef(crm, o, record_id) for o in mapping.objects]
    found = state.load(refs)
    if not found:
        err.print(f"no assessment stored for {crm} record {record_id}")
        raise typer.Exit(1)
    ref, stored = next(iter(found.items()))
    print_explanation(out, ref, stored, state.audit(ref, limit=20))


dlq = typer.Typer(help="Inspect and retry what could not be processed.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")


@dlq.command("list")
def dlq_list(limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100) -> None:
    """Show dead letters with the reason each failed."""
    queue, _ = open_backend(_env())
    print_dead_letters(out, queue.dead_letters(limit))


@dlq.command("replay")
def dlq_replay(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead-letter ids (default: all).")] = None,
) -> None:
    """Put dead letters back on the queue (once the cause is fixed)."""
    queue, _ = open_backend(_env())
    count = queue.replay(ids or None)
    out.print(f"replayed {count} event(s); `leadtherm serve` or `leadtherm sweep` processes them")


@app.command()
def setup(
    crm: Annotated[str, typer.Argument(help="hubspot or salesforce")],
    mappings: MappingsOption = None,
) -> None:
    """Create the output fields in the CRM (idempotent) and print the webhook setup to do by hand."""
    plugin = load_crm(crm)
    report = plugin.setup(load_mapping(crm, mappings), _env())
    print_setup(out, crm, report)
    if report.conflicts:
        raise typer.Exit(1)


@app.command()
def calibrate(
    file: Annotated[
        Path, typer.Argument(help="History export (CSV or JSON) with an outcome column, or `hubspot` / `salesforce`.")
    ],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Mapping file for the export's columns (a CRM: its own).")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(help="Column that is 1/0, true/false or yes/no (converted / won); for a CRM, a Lead attribute."),
    ] = None,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.9, help="Share kept aside to measure honestly.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Same file and seed, same rules (byte for byte).")] = 7,
    output: Annotated[Path, typer.Option("--out", help="Where to write the calibrated rules.")] = Path(
        "scoring.calibrated.yaml"
    ),
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with charts here.")] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Decay engagement as of this time (default: the history's latest engagement)."),
    ] = None,
    outcome_date: Annotated[
        str | None, typer.Option("--outcome-date", help="Column with each lead's outcome date: decay as of it.")
    ] = None,
    balanced: Annotated[bool, typer.Option(help="Weigh converters and the rest equally (rare conversions).")] = False,
    keep_leaky: Annotated[bool, typer.Option(help="Learn from columns that look like leakage anyway.")] = False,
    mappings: MappingsOption = None,
) -> None:
    """Learn the points of scoring.yaml from outcomes you already have, with a holdout report."""
    from integration.calibration.calibrate import calibrate as learn
    from integration.calibration.checks import leakage, warnings
    from integration.calibration.history import CRM_OUTCOMES, CalibrationError, History, pull_history, read_history
    from integration.calibration.report import html_report, print_summary
    from integration.calibration.writer import scoring_yaml, write
    from integration.exports import ExportError
    from integration.guard import GuardedClient
    from integration.ratelimit import TokenBucket
    from mappings.loader import load_file
    from mappings.schema import CrmMapping

    moment = _utc(as_of) if as_of else None
    try:
        current = load_rules(mappings)
        history: History
        if not file.exists() and str(file) in CRM_OUTCOMES:
            crm = str(file)
            crm_mapping = load_file(CrmMapping, mapping) if mapping else load_mapping(crm, mappings)
            plugin = load_crm(crm)
            bucket = TokenBucket.for_window(*plugin.rate_limit(os.environ))
            client = GuardedClient(plugin.client(crm_mapping, os.environ), bucket)
            history = pull_history(client, crm_mapping, plugin.flatten, outcome or CRM_OUTCOMES[crm], moment)
        else:
            if mapping is None or outcome is None:
                raise CalibrationError(f"{file}: a history file needs --mapping (for its columns) and --outcome COLUMN")
            crm_mapping = load_file(CrmMapping, mapping)
            history = read_history(file, crm_mapping, outcome, outcome_date, moment)
        leaks = leakage(history.leads, history.outcomes, crm_mapping)
        result = learn(
            history, current, holdout, seed, balanced, leave_out=set() if keep_leaky else {x.attribute for x in leaks}
        )
        text = scoring_yaml(result, seed, holdout)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    except (CalibrationError, ExportError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    write(output, text)
    found = warnings(leaks, keep_leaky, history.outcomes)
    print_summary(out, result)
    for warning in found:
        err.print(f"warning: {warning}", style="yellow", markup=False)
    if report is not None:
        report.write_text(html_report(result, found, seed), encoding="utf-8")
    out.print(f"wrote {output}" + (f" and {report}" if report else ""), markup=False)


def _register_extra_commands() -> None:
    known = {c.name for c in app.registered_commands}
    for name, command in extra_commands().items():
        if name not in known:
            app.command(name=name)(command)


def main() -> None:
    """Console-script entry: typed errors become one clear message and the documented exit code."""
    try:
        _register_extra_commands()
        app()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        sys.exit(2)
    except LeadthermError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
