"""`leadtherm explain CRM ID`: the last assessment of one record."""

from __future__ import annotations

from typing import Annotated

import typer

from integration.cli.consoles import out
from integration.cli.exits import EXIT_USAGE
from integration.cli.inputs import stored
from integration.cli.options import CrmArgument, MappingsOption
from integration.cli.report import print_explanation, print_named_explanation
from integration.composition.plugins import load_crm
from integration.ports import RecordRef
from mappings.loader import load_mapping


def explain(
    crm: CrmArgument,
    record_id: Annotated[str, typer.Argument(metavar="RECORD_ID", help="The record's id in the CRM.")],
    mappings: MappingsOption = None,
    named: Annotated[
        str | None,
        typer.Option("--score", metavar="NAME", help="A named score: what leadtherm last wrote for it, and when."),
    ] = None,
) -> None:
    """Print the last assessment of a record: points per rule, temperature, stage, history."""
    load_crm(crm)  # an unknown name first: "unknown CRM", not a missing mapping file
    mapping = load_mapping(crm, mappings)
    _, state, where = stored()
    refs = [RecordRef(crm, o, record_id) for o in mapping.objects]
    found = state.load(refs)
    if not found:  # an id the person typed: the same code as `dlq replay` of an unknown id
        typer.echo(f"error: no assessment stored for {crm} record {record_id} in {where}", err=True)
        raise typer.Exit(EXIT_USAGE)
    ref, last = next(iter(found.items()))
    if named is None:
        print_explanation(out, ref, last, state.audit(ref, limit=20))
    elif not print_named_explanation(out, ref, named, state.audit(ref, limit=NAMED_HISTORY)):
        typer.echo(
            f"error: no write of score {named!r} for {crm} record {record_id} in {where} "
            "(never in its segment, or not a named score)",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)


NAMED_HISTORY = 200  # decisions searched for a named score's writes (each write of any score is one)
