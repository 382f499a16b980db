"""The `leadtherm` command line."""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from integration import __version__
from integration.cli.report import (
    ScoredRow,
    make_console,
    print_dead_letters,
    print_distribution,
    print_explanation,
    print_setup,
)
from integration.composition.plugins import (
    CrmPlugin,
    NoStoredData,
    UnknownPlugin,
    crm_name,
    crm_names,
    extra_commands,
    load_crm,
)
from integration.composition.runtime import NothingConfigured, build_runtime, check_outputs, open_existing_backend
from integration.domain.model import Temperature
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess
from integration.errors import ConfigError, InvalidSetting, LeadthermError, MappingError, MissingSetting
from integration.files.exports import PROGRESS_EVERY, Export, ExportError, ReadProgress, open_export
from integration.files.score_output import row_writer
from integration.ports import RecordRef, StateStore, WorkQueue
from integration.service.backfill import backfill, resumed_at, start_over
from integration.service.sweep import enqueue_due
from integration.service.worker import drain
from mappings.loader import (
    CheckReport,
    check_file,
    check_folder_report,
    load_config,
    load_mapping,
    load_rules,
    mappings_dir,
    rules_warnings,
)
from mappings.schema import CrmMapping

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: `--summary / --no-summary`, not `<bool>` on every flag
    help="Lead qualification for HubSpot and Salesforce.",
)
out = make_console()
err = make_console(stderr=True)

# The one exit-code rule (README, DESIGN.md): 0 ok, 1 the job failed, 2 bad usage or invalid
# configuration. These errors are the second kind: the person must change what they typed or set.
USAGE_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    MissingSetting,
    InvalidSetting,
    NothingConfigured,
    NoStoredData,
    UnknownPlugin,
    ExportError,
)
EXIT_FAILED = 1
EXIT_USAGE = 2
ROW_ERRORS_SHOWN = 3  # per column and reason; the rest are counted in one line

MappingsOption = Annotated[
    Path | None,
    typer.Option(
        "--mappings", metavar="DIR", help="Folder of mapping files (default: $LEADTHERM_MAPPINGS or packaged)."
    ),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(help="Text encoding of the export (default: UTF-8, else cp1252 as Excel on Windows writes)."),
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
def check(
    target: Annotated[
        Path | None,
        typer.Argument(metavar="PATH", help="One file to check, or a folder (default: --mappings)."),
    ] = None,
    mappings: MappingsOption = None,
) -> None:
    """Validate scoring.yaml and each CRM's mapping file; one line per problem with file, line and field."""
    crms = crm_names()
    # Rules are checked against the CRMs configured here (all of them when none is): a HubSpot-only
    # admin's rule on a HubSpot custom property is no problem of salesforce.yaml's.
    env = _env()
    in_use = [n for n in crms if load_crm(n).configured(env)] or crms
    if target is not None and not target.is_dir():
        report = check_file(target, crms, in_use)
    else:
        report = check_folder_report(target or mappings, crms, in_use)
    _print_check(report)


def _print_check(report: CheckReport) -> None:
    for problem in report.problems:
        typer.echo(str(problem), err=True)  # one unwrapped line each: scripts and editors parse them
    for warning in report.warnings:
        typer.echo(f"{warning} (warning)", err=True)
    checked = ", ".join(report.checked)
    if report.skipped:
        skipped = ", ".join(report.skipped)
        typer.echo(
            f"not checked, leadtherm does not read them: {skipped} (`leadtherm check FILE` checks one)", err=True
        )
    if report.problems:
        # Nothing checked (a missing folder): the count alone, no dangling "checked ".
        typer.echo(f"{len(report.problems)} problem(s) found" + (f"; checked {checked}" if checked else ""), err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(f"valid: {checked}")


@app.command()
def score(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CRM export: CSV with the CRM's field names, or JSON records.")
    ],
    crm: Annotated[
        str, typer.Option(metavar="NAME", help="Which CRM the export comes from (hubspot, salesforce).")
    ] = "hubspot",
    output: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    as_of: Annotated[datetime | None, typer.Option("--as-of", help="Score as of this time (default: now).")] = None,
    summary: Annotated[bool, typer.Option(help="Print the temperature distribution on stderr after the rows.")] = False,
    encoding: EncodingOption = None,
    mappings: MappingsOption = None,
) -> None:
    """Score a CRM export offline through the same mappings the live integration uses.

    Rows are read, scored and written one at a time, so an export of any size runs in constant memory.
    """
    plugin = load_crm(crm)
    rules, by_crm = load_config([crm], mappings)
    mapping = by_crm[crm]
    export = _open(file, encoding)
    for warning in rules_warnings(rules, str(mappings_dir(mappings) / "scoring.yaml")):
        typer.echo(f"{warning} (warning)", err=True)
    _check_header(export, crm, plugin, mapping, mappings)
    normalizer = Normalizer(mapping, remember=True)
    now = _utc(as_of) if as_of else datetime.now(UTC)
    tally = _ScoreTally()
    writer = row_writer(out, output.value)
    with _score_progress(export) as progress:
        for row in export.rows(progress):
            object_type, flat = plugin.flatten(row.record)
            try:
                reading = normalizer.read(flat, object_type)
            except MappingError as exc:
                tally.rejected[(exc.field, exc.reason)] += 1
                if tally.rejected[(exc.field, exc.reason)] <= ROW_ERRORS_SHOWN:
                    typer.echo(f"{file}: {row.position}, column {exc.field}: {exc.reason} (row skipped)", err=True)
                continue
            tally.unmapped.update(reading.unmapped)
            lead = reading.lead
            tally.saw(lead.record_id, row.position)
            assessment = assess(lead, rules, now)
            tally.temperatures[assessment.temperature] += 1
            writer.write(ScoredRow(lead.record_id, assessment))
        progress.finish(tally.scored)
    writer.close()
    _report_score(file, crm, tally, summary)


@dataclass
class _ScoreTally:
    """What `score` counts while it streams: verdicts, skipped rows, unlisted values, repeated ids."""

    temperatures: Counter[Temperature] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)  # the one thing that grows: ids, not rows
    duplicates: int = 0
    first_duplicate: tuple[str, str] | None = None

    @property
    def scored(self) -> int:
        return sum(self.temperatures.values())

    def saw(self, record_id: str, position: str) -> None:
        if record_id in self.seen:
            self.duplicates += 1
            if self.first_duplicate is None:
                self.first_duplicate = (record_id, position)
        else:
            self.seen.add(record_id)


def _report_score(file: Path, crm: str, tally: _ScoreTally, summary: bool) -> None:
    """Everything after the rows goes to stderr: stdout stays a clean CSV or JSON document."""
    if summary:
        print_distribution(err, tally.temperatures, title=f"{crm}: {file.name}")
    if tally.first_duplicate is not None:
        record_id, position = tally.first_duplicate
        typer.echo(
            f"{file}: {tally.duplicates} row(s) repeat an id seen earlier (first: {record_id} at {position}); "
            "each was scored, so the output holds that id more than once",
            err=True,
        )
    for column, count in sorted(tally.unmapped.items()):
        # The field, never the value: it may be personal, and the admin finds it by the column.
        typer.echo(
            f"{file}: column {column}: {count} row(s) hold a value its map does not list (read as the default; "
            "add it to the map)",
            err=True,
        )
    for (column, reason), count in tally.rejected.items():
        if count > ROW_ERRORS_SHOWN:
            typer.echo(f"{file}: column {column}: {reason} in {count - ROW_ERRORS_SHOWN} more row(s)", err=True)
    if tally.rejected:
        typer.echo(f"{sum(tally.rejected.values())} row(s) skipped, {tally.scored} scored", err=True)
        raise typer.Exit(EXIT_FAILED)


LARGE_EXPORT_BYTES = 4_000_000  # about 20,000 rows: a few seconds, worth showing progress for
PROGRESS_LINES = 10  # off a terminal: one line per tenth of the file


class _ScoreProgress(ReadProgress):
    """Bytes read out of the export's size: a rich bar on a terminal, else a line per tenth on stderr."""

    def __init__(self, export: Export) -> None:
        self.size = max(export.size, 1)
        self.path = export.path
        self.rows = 0
        self.bar: Progress | None = None
        self.next_line = self.size // PROGRESS_LINES
        self.task: TaskID | None = None

    def __enter__(self) -> _ScoreProgress:
        if err.is_terminal:
            self.bar = Progress(
                TextColumn("scoring"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err, transient=True
            )
            self.bar.start()
            self.task = self.bar.add_task("score", total=self.size)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, done_bytes: int) -> None:
        self.rows += PROGRESS_EVERY
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done_bytes)
        elif done_bytes >= self.next_line:
            share = min(100, 100 * done_bytes // self.size)
            typer.echo(f"{self.path}: {share}% read, about {self.rows:,} rows", err=True)
            while self.next_line <= done_bytes:
                self.next_line += self.size // PROGRESS_LINES

    def finish(self, scored: int) -> None:
        if self.bar is None:
            typer.echo(f"{self.path}: done, {scored:,} row(s) scored", err=True)


class _NoProgress(ReadProgress):
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def finish(self, scored: int) -> None:
        """A small export needs no progress."""


def _score_progress(export: Export) -> _ScoreProgress | _NoProgress:
    if export.is_json or export.size < LARGE_EXPORT_BYTES:
        return _NoProgress()
    return _ScoreProgress(export)


def _open(file: Path, encoding: str | None) -> Export:
    """Decode an export, saying so when it was not UTF-8 (the person may want to know why ü looks right)."""
    export = open_export(file, encoding)
    if export.detected_non_utf8 and encoding is None:
        typer.echo(f"{file}: not UTF-8; read as {export.encoding} (pass --encoding to choose)", err=True)
    return export


def _fields(plugin: CrmPlugin, export: Export) -> set[str] | None:
    """The field names of the export's first record as this CRM's adapter reads them (None: no rows)."""
    for row in export.rows():
        return set(plugin.flatten(row.record)[1])
    return None


def _check_header(export: Export, crm: str, plugin: CrmPlugin, mapping: CrmMapping, mappings: Path | None) -> None:
    """A header without the record id, or with none of the mapped fields, is the wrong file: say so once."""
    fields = _fields(plugin, export)
    if fields is None:
        return
    if mapping.id_field not in fields:
        message = f"{export.path}: no {mapping.id_field} column (the {crm} record id), so not a {crm} export"
        for other in crm_names():
            if other != crm and _looks_like(other, export, mappings):
                message += f"; its header looks like a {other} export: use --crm {other}"
                break
        raise ExportError(message)
    sources = {source for attribute in mapping.attributes.values() for source in attribute.sources}
    if not sources & fields:
        raise ExportError(
            f"{export.path}: none of the columns the {crm} mapping reads is in the header "
            f"(expected some of {', '.join(sorted(sources)[:6])}, ...)"
        )


def _looks_like(crm: str, export: Export, mappings: Path | None) -> bool:
    try:
        plugin = load_crm(crm)
        id_field = load_mapping(crm, mappings).id_field
    except (ConfigError, UnknownPlugin):
        return False
    return id_field in (_fields(plugin, export) or set())


# ---------------------------------------------------------------------------- live commands


def _crm_argument(name: str) -> str:
    return crm_name(name)


CrmOption = Annotated[
    list[str] | None, typer.Option("--crm", metavar="NAME", help="CRM(s) to use (default: every configured one).")
]
# Case-insensitive (`HubSpot` is hubspot); `--crm` values are folded in main() for every command.
CrmArgument = Annotated[str, typer.Argument(metavar="CRM", help="hubspot or salesforce", callback=_crm_argument)]


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
        raise typer.Exit(EXIT_FAILED)


@app.command(name="backfill")
def backfill_command(
    crm: CrmArgument,
    page_size: Annotated[int, typer.Option(help="Records per page (the CRM's batch size).")] = 100,
    restart: Annotated[bool, typer.Option(help="Ignore the saved cursor and start from the top.")] = False,
    mappings: MappingsOption = None,
) -> None:
    """Score every existing record once; resumable after Ctrl-C or a crash."""
    load_crm(crm)  # an unknown name first: "unknown CRM", not a missing mapping file
    runtime = build_runtime(_env(), [crm], mappings)
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


@app.command()
def explain(
    crm: CrmArgument,
    record_id: Annotated[str, typer.Argument(metavar="RECORD_ID", help="The record's id in the CRM.")],
    mappings: MappingsOption = None,
) -> None:
    """Print the last assessment of a record: points per rule, temperature, stage, history."""
    load_crm(crm)  # an unknown name first: "unknown CRM", not a missing mapping file
    mapping = load_mapping(crm, mappings)
    _, state, where = _stored()
    refs = [RecordRef(crm, o, record_id) for o in mapping.objects]
    found = state.load(refs)
    if not found:  # an id the person typed: the same code as `dlq replay` of an unknown id
        typer.echo(f"error: no assessment stored for {crm} record {record_id} in {where}", err=True)
        raise typer.Exit(EXIT_USAGE)
    ref, stored = next(iter(found.items()))
    print_explanation(out, ref, stored, state.audit(ref, limit=20))


def _stored() -> tuple[WorkQueue, StateStore, str]:
    """The queue and state of a command that only reads, saying which database (never creating one)."""
    queue, state, where = open_existing_backend(_env())
    typer.echo(f"database: {where}", err=True)
    return queue, state, where


REPLAY_LOOKUP = 100_000  # dead letters listed to tell a mistyped id from a real one

dlq = typer.Typer(rich_markup_mode=None, help="Inspect and retry what could not be processed.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")


@dlq.command("list")
def dlq_list(limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100) -> None:
    """Show dead letters with the reason each failed."""
    queue, _, _ = _stored()
    print_dead_letters(out, queue.dead_letters(limit))


@dlq.command("replay")
def dlq_replay(
    ids: Annotated[list[str] | None, typer.Argument(metavar="ID", help="Dead-letter ids (default: all).")] = None,
) -> None:
    """Put dead letters back on the queue (once the cause is fixed)."""
    queue, _, _ = _stored()
    if ids:
        listed = {letter.id for letter in queue.dead_letters(REPLAY_LOOKUP)}
        unknown = [i for i in dict.fromkeys(ids) if i not in listed]
        if unknown and len(listed) < REPLAY_LOOKUP:  # the listing is complete: these ids do not exist
            typer.echo(
                f"error: not in the dead-letter queue: {', '.join(unknown)} (`leadtherm dlq list` shows the ids)",
                err=True,
            )
            raise typer.Exit(EXIT_USAGE)
    count = queue.replay(ids or None)
    out.print(f"replayed {count} event(s); `leadtherm serve` or `leadtherm sweep` processes them", markup=False)
    if ids and count < len(set(ids)):
        typer.echo(f"error: {len(set(ids)) - count} of the given id(s) were not in the dead-letter queue", err=True)
        raise typer.Exit(EXIT_USAGE)


@app.command()
def setup(
    crm: CrmArgument,
    mappings: MappingsOption = None,
) -> None:
    """Create the output fields in the CRM (idempotent) and print the webhook setup to do by hand."""
    plugin = load_crm(crm)
    report = plugin.setup(load_mapping(crm, mappings), _env())
    print_setup(out, crm, report)
    if report.conflicts or report.missing:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def calibrate(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE|CRM", help="History export (CSV or JSON) with an outcome column, or `hubspot` / `salesforce`."
        ),
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
    date_column: Annotated[
        str | None,
        typer.Option(
            "--date-column",
            metavar="COL",
            help="Column with each lead's creation date: measure on the most recent leads (a CRM: its own).",
        ),
    ] = None,
    balanced: Annotated[bool, typer.Option(help="Weigh converters and the rest equally (rare conversions).")] = False,
    keep_leaky: Annotated[bool, typer.Option(help="Learn from columns that look like leakage anyway.")] = False,
    force: Annotated[
        bool, typer.Option(help="Write the rules even when the history does not separate converters.")
    ] = False,
    encoding: EncodingOption = None,
    mappings: MappingsOption = None,
) -> None:
    """Learn the points of scoring.yaml from outcomes you already have, with a holdout report."""
    from integration.calibration.history import CalibrationError, History, pull_history, read_history
    from integration.calibration.report import html_report, print_summary
    from integration.calibration.session import Options, run
    from integration.calibration.writer import scoring_yaml, write
    from integration.service.guard import GuardedClient
    from integration.service.ratelimit import TokenBucket
    from mappings.loader import load_file

    moment = _utc(as_of) if as_of else None
    try:
        current = load_rules(mappings)
        history: History
        if not file.exists() and crm_name(str(file)) in crm_names():
            crm = crm_name(str(file))
            plugin = load_crm(crm)
            crm_mapping = load_file(CrmMapping, mapping) if mapping else load_mapping(crm, mappings)
            bucket = TokenBucket.for_window(*plugin.rate_limit(os.environ))
            client = GuardedClient(plugin.client(crm_mapping, os.environ), bucket)
            source = plugin.calibration
            history = pull_history(
                client, crm_mapping, plugin.flatten, outcome or source.outcome, moment, created_field=source.created
            )
        else:
            if not file.exists() and not file.suffix and len(file.parts) == 1:
                raise UnknownPlugin("CRM", str(file), crm_names())  # neither a file nor a CRM: a CRM was meant
            export = _open(file, encoding)  # a missing or undecodable file first: it is the first thing to fix
            if mapping is None or outcome is None:
                raise CalibrationError(f"{file}: a history file needs --mapping (for its columns) and --outcome COLUMN")
            crm_mapping = load_file(CrmMapping, mapping)
            history = read_history(file, crm_mapping, outcome, outcome_date, moment, export.encoding, date_column)
        found = run(history, current, Options(holdout, seed, balanced, keep_leaky, force))
        text = scoring_yaml(found.calibration, seed, holdout) if found.writes_rules else None
    except CalibrationError as exc:  # bad input, not a failed job: the person must change the file or options
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    print_summary(out, found)
    for warning in found.warnings:
        err.print(f"warning: {warning}", style="yellow", markup=False)
    if report is not None:
        report.write_text(html_report(found, seed), encoding="utf-8")
    if text is None:  # a chance-level model is not rules to ship: the job did not produce what was asked
        err.print(f"no rules written to {output}" + (f"; the report is {report}" if report else ""), markup=False)
        raise typer.Exit(EXIT_FAILED)
    write(output, text)
    out.print(f"wrote {output}" + (f" and {report}" if report else ""), markup=False)


def _register_extra_commands() -> None:
    known = {c.name for c in app.registered_commands}
    for name, command in extra_commands().items():
        if name not in known:
            app.command(name=name)(command)


def exit_code(exc: Exception) -> int:
    """The documented exit code of a typed error: 2 for what the person must change, 1 for a failed job."""
    return EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_FAILED


def _report(exc: LeadthermError | ConfigError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
    else:
        typer.echo(f"error: {exc}", err=True)


def _usage(exc: typer.TyperException) -> None:
    if type(exc).__name__ == "NoArgsIsHelpError":  # `leadtherm` or `leadtherm dlq` alone: the help is the answer
        typer.echo(exc.format_message(), err=True)
        return
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "leadtherm"
    typer.echo(f"error: {exc.format_message()} (see `{command} --help`)", err=True)


def _fold_crm_options(args: list[str]) -> list[str]:
    """`--crm HubSpot` is `--crm hubspot` for every command, the plugins' own included."""
    folded = list(args)
    for i, arg in enumerate(folded):
        if arg == "--":
            break
        if arg == "--crm" and i + 1 < len(folded):
            folded[i + 1] = crm_name(folded[i + 1])
        elif arg.startswith("--crm="):
            folded[i] = "--crm=" + crm_name(arg.removeprefix("--crm="))
    return folded


def main() -> None:
    """Console-script entry: typed errors become one clear message and the documented exit code."""
    try:
        args = _fold_crm_options(sys.argv[1:])
        if args[:1] != ["score"]:
            # score reads exports of any size in constant memory: it loads none of the server
            # commands (Flask, the console: about 50 MB before the first row).
            _register_extra_commands()
        code = app(args=args, standalone_mode=False)
    except (LeadthermError, ConfigError) as exc:  # ConfigError is the mappings package's own
        _report(exc)
        sys.exit(exit_code(exc))
    except typer.TyperException as exc:  # click's usage errors (unknown option, bad value): one line
        _usage(exc)
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
