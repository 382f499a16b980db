"""`leadtherm dlq`: inspect and replay dead letters."""

from __future__ import annotations

from typing import Annotated

import typer

from integration.cli.consoles import out
from integration.cli.exits import EXIT_USAGE
from integration.cli.inputs import stored
from integration.cli.report import print_dead_letters

REPLAY_LOOKUP = 100_000  # dead letters listed to tell a mistyped id from a real one


dlq = typer.Typer(rich_markup_mode=None, help="Inspect and retry what could not be processed.", no_args_is_help=True)


@dlq.command("list")
def dlq_list(limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100) -> None:
    """Show dead letters with the reason each failed."""
    queue, _, _ = stored()
    print_dead_letters(out, queue.dead_letters(limit))


@dlq.command("replay")
def dlq_replay(
    ids: Annotated[list[str] | None, typer.Argument(metavar="ID", help="Dead-letter ids (default: all).")] = None,
) -> None:
    """Put dead letters back on the queue (once the cause is fixed)."""
    queue, _, _ = stored()
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
