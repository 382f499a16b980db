"""`leadtherm score`: score a CRM export offline, one row at a time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from integration.cli.consoles import err, out
from integration.cli.exits import EXIT_FAILED
from integration.cli.inputs import open_export_file
from integration.cli.options import EncodingOption, MappingsOption, utc
from integration.cli.report import ScoredRow, print_distribution
from integration.composition.plugins import CrmNotNamed, CrmPlugin, UnknownPlugin, crm_names, load_crm
from integration.domain.model import Temperature
from integration.domain.normalize import Normalizer
from integration.domain.scoring import segment_holds
from integration.domain.verdicts import Verdicts
from integration.errors import ConfigError, MappingError
from integration.files.exports import PROGRESS_EVERY, Export, ExportError, ReadProgress
from integration.files.score_output import row_writer
from mappings.grammar import SCORING_FILE, named_scoring_file
from mappings.loader import Config, load_mapping, load_scoring, mappings_dir, rules_warnings
from mappings.schema import Condition, CrmMapping, ScoreDefinition, ScoringRules

ROW_ERRORS_SHOWN = 3  # per column and reason; the rest are counted in one line


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def score(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CRM export: CSV with the CRM's field names, or JSON records.")
    ],
    crm: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Which CRM the export comes from (default: the only configured one, else the one its header matches).",
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    as_of: Annotated[datetime | None, typer.Option("--as-of", help="Score as of this time (default: now).")] = None,
    summary: Annotated[bool, typer.Option(help="Print the temperature distribution on stderr after the rows.")] = False,
    encoding: EncodingOption = None,
    mappings: MappingsOption = None,
    named: Annotated[
        str | None,
        typer.Option(
            "--score",
            metavar="NAME",
            help="A named score (scoring.NAME.yaml): its rules, on the rows in its segment only; "
            "`all`: the default score with each named score's columns (default: the default score).",
        ),
    ] = None,
) -> None:
    """Score a CRM export offline through the same mappings the live integration uses.

    Rows are read, scored and written one at a time, so an export of any size runs in constant memory.
    """
    export = None
    if crm is None:  # the header tells which CRM: read it first
        export = open_export_file(file, encoding)
        crm = _which_crm(export, mappings)
    plugin = load_crm(crm)
    config = load_scoring([crm], mappings)
    mapping = config.mappings[crm]
    rules, segment, extra, rules_file = _chosen(config, named)
    export = export or open_export_file(file, encoding)
    for warning in rules_warnings(rules, str(mappings_dir(mappings) / rules_file)):
        typer.echo(f"{warning} (warning)", err=True)
    _check_header(export, crm, plugin, mapping, mappings)
    normalizer = Normalizer(mapping, remember=True)
    now = utc(as_of) if as_of else datetime.now(UTC)
    tally = _ScoreTally()
    # Each rule set's verdicts are remembered per projection of a lead: an export repeats them.
    points = output is OutputFormat.json  # every line of the score: only JSON writes them
    verdicts = Verdicts(rules, now, points)
    named_verdicts = [(s.name, s.segment, Verdicts(s.rules, now, points)) for s in extra]
    temperatures = dict.fromkeys(Temperature, 0)  # a plain dict: Counter's += costs more per row
    writer = row_writer(out, output.value, [score.name for score in extra])
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
            if reading.unmapped:
                tally.unmapped.update(reading.unmapped)
            lead = reading.lead
            if segment is not None and not segment_holds(segment, lead.values, now):
                tally.outside += 1
                continue
            tally.saw(lead.record_id, row.position)
            verdict = verdicts.verdict(lead)
            temperatures[verdict.temperature] += 1
            others = (
                tuple(
                    (name, of.verdict(lead) if segment_holds(segment, lead.values, now) else None)
                    for name, segment, of in named_verdicts
                )
                if named_verdicts
                else ()
            )
            writer.write(ScoredRow(lead.record_id, verdict, others))
        tally.temperatures.update({t: n for t, n in temperatures.items() if n})
        progress.finish(tally.scored)
    writer.close()
    if tally.outside:
        typer.echo(f"{file}: {tally.outside} row(s) outside the segment of {named} (not scored)", err=True)
    _report_score(file, crm, tally, summary)


ALL_SCORES = "all"


def _chosen(
    config: Config, named: str | None
) -> tuple[ScoringRules, tuple[Condition, ...] | None, list[ScoreDefinition], str]:
    """The rules to score with, the segment rows must be in (None: every row), the named scores whose
    columns to add, and the rules' file."""
    if named is None:
        return config.rules, None, [], SCORING_FILE
    if named == ALL_SCORES:
        return config.rules, None, list(config.scores), SCORING_FILE
    for score in config.scores:
        if score.name == named:
            return score.rules, score.segment, [], named_scoring_file(named)
    known = ", ".join([s.name for s in config.scores] + [ALL_SCORES])
    raise typer.BadParameter(
        f"no named score {named!r} (no {named_scoring_file(named)}); known: {known}", param_hint="--score"
    )


@dataclass
class _ScoreTally:
    """What `score` counts while it streams: verdicts, skipped rows, unlisted values, repeated ids."""

    temperatures: Counter[Temperature] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    seen: set[str] = field(default_factory=set)  # the one thing that grows: ids, not rows
    outside: int = 0  # rows outside the chosen named score's segment
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


def _which_crm(export: Export, mappings: Path | None) -> str:
    """No --crm: the only configured CRM, else the only installed one whose record id the header has."""
    from integration.cli.options import env
    from integration.composition.runtime import configured_crms

    known = crm_names()
    configured = configured_crms(env())
    if len(configured) == 1:
        return configured[0]
    matching = [name for name in (configured or known) if _looks_like(name, export, mappings)]
    if len(matching) == 1:
        return matching[0]
    why = f"{len(configured)} CRMs are configured" if configured else "no CRM is configured"
    raise CrmNotNamed(f"{why} and the export's header {'fits several' if matching else 'fits none'}", known)


def _looks_like(crm: str, export: Export, mappings: Path | None) -> bool:
    try:
        plugin = load_crm(crm)
        id_field = load_mapping(crm, mappings).id_field
    except (ConfigError, UnknownPlugin):
        return False
    return id_field in (_fields(plugin, export) or set())
