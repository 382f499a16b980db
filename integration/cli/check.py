"""`leadtherm check`: validate the rules and mapping files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from integration.cli.exits import EXIT_USAGE
from integration.cli.options import MappingsOption, env
from integration.composition.plugins import crm_names, load_crm
from mappings.loader import CheckReport, check_file, check_folder_report


def check(
    target: Annotated[
        Path | None,
        typer.Argument(metavar="PATH", help="One file to check, or a folder (default: --mappings)."),
    ] = None,
    mappings: MappingsOption = None,
    environment_variables: Annotated[
        bool,
        typer.Option(
            "--env", help="Report every setting instead: where its value came from (secrets masked), every problem."
        ),
    ] = False,
) -> None:
    """Validate scoring.yaml and each CRM's mapping file; one line per problem with file, line and field."""
    if environment_variables:
        from integration.cli.environment import check_environment

        return check_environment(mappings)
    crms = crm_names()
    # Rules are checked against the CRMs configured here (all of them when none is): one CRM's
    # admin's rule on that CRM's custom property is no problem of another CRM's mapping.
    environment = env()
    in_use = [n for n in crms if load_crm(n).configured(environment)] or crms
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
