"""The `leadtherm` command line."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from integration import __version__
from integration.errors import ConfigError, LeadthermError, MappingError
from integration.exports import read_export
from integration.normalize import Normalizer
from integration.plugins import load_crm
from integration.report import ScoredRow, print_distribution, write_rows
from integration.scoring import assess
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
    typer.Option(
        "--mappings", help="Folder of mapping files (default: $LEADTHERM_MAPPINGS or packaged)."
    ),
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
        err.print(str(problem), markup=False, highlight=False)
    if problems:
        err.print(f"{len(problems)} problem(s) found", style="red")
        raise typer.Exit(2)
    out.print("mapping and scoring files are valid", style="green")


@app.command()
def score(
    file: Annotated[
        Path, typer.Argument(help="CRM export: CSV with the CRM's field names, or JSON records.")
    ],
    crm: Annotated[
        str, typer.Option(help="Which CRM the export comes from (hubspot, salesforce).")
    ] = "hubspot",
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json.")
    ] = OutputFormat.table,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="Score as of this time (default: now).")
    ] = None,
    summary: Annotated[
        bool, typer.Option(help="Print the temperature distribution after the rows.")
    ] = False,
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
            err.print(
                f"{file}: {row.position}, column {exc.field}: {exc.reason} (row skipped)",
                markup=False,
            )
            continue
        rows.append(ScoredRow(lead.record_id, assess(lead, rules, now)))
    write_rows(out, rows, output.value)
    if summary:
        print_distribution(
            out, Counter(r.assessment.temperature for r in rows), title=f"{crm}: {file.name}"
        )
    if rejected:
        err.print(f"{rejected} row(s) skipped, {len(rows)} scored", style="yellow")
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry: typed errors become one clear message and the documented exit code."""
    try:
        app()
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        sys.exit(2)
    except LeadthermError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(1)
