"""`leadtherm setup CRM`: create the output fields in the CRM."""

from __future__ import annotations

import typer

from integration.cli.consoles import out
from integration.cli.exits import EXIT_FAILED
from integration.cli.options import CrmArgument, MappingsOption, env
from integration.cli.report import print_setup
from integration.composition.plugins import load_crm
from mappings.loader import load_mapping


def setup(
    crm: CrmArgument,
    mappings: MappingsOption = None,
) -> None:
    """Create the output fields in the CRM (idempotent) and print the webhook setup to do by hand."""
    plugin = load_crm(crm)
    report = plugin.setup(load_mapping(crm, mappings), env())
    print_setup(out, crm, report)
    if report.conflicts or report.missing:
        raise typer.Exit(EXIT_FAILED)
