"""`leadtherm sandbox CRM`: one local CRM sandbox on its own, for trying the commands by hand."""

from __future__ import annotations

import random
import shlex
import signal
import socket
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from integration.cli.report import make_console
from leadtherm_sandboxes.demo.people import personas

console = make_console()


class SandboxName(StrEnum):
    hubspot = "hubspot"
    salesforce = "salesforce"


def _side(name: SandboxName, seed: int, state_dir: Path | None = None) -> Any:
    def now() -> datetime:
        return datetime.now(UTC)

    if name is SandboxName.hubspot:
        from leadtherm_sandboxes.demo.hubspot_side import HubSpotDemo

        return HubSpotDemo(now, seed)
    from leadtherm_sandboxes.demo.salesforce_side import SalesforceDemo

    return SalesforceDemo(now, seed, state_dir, pubsub=True)


def _port_taken(port: int) -> bool:
    """Whether another program listens on 127.0.0.1:port (Werkzeug would print two lines and exit 1)."""
    if port == 0:
        return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Werkzeug binds: TIME_WAIT is no owner
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def sandbox(
    crm: Annotated[SandboxName, typer.Argument(metavar="CRM", case_sensitive=False, help="hubspot or salesforce")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 0,
    records: Annotated[int, typer.Option(min=0, help="Believable contacts (or leads) to seed.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed for the seeded records.")] = 7,
    webhook_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Deliver changes to this `leadtherm serve`, e.g. http://127.0.0.1:8080."),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Salesforce: keep the outbound secret and the CA here across restarts."),
    ] = None,
) -> None:
    """Run one local CRM sandbox until Ctrl-C and print the settings that point leadtherm at it."""
    if _port_taken(port):
        typer.echo(
            f"error: cannot listen on 127.0.0.1:{port}: the port is already in use (another sandbox running?); "
            "choose another --port",
            err=True,
        )
        raise typer.Exit(2)
    side = _side(crm, seed, state_dir)
    try:
        env = side.start(port)
    except (OSError, SystemExit) as exc:  # SystemExit: Werkzeug's own exit when the port was taken meanwhile
        typer.echo(f"error: cannot listen on 127.0.0.1:{port}: {getattr(exc, 'strerror', None) or exc}", err=True)
        raise typer.Exit(2) from None
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        people = personas(records, random.Random(seed)) if records else []
        side.seed(people)
        side.seed_history(people, random.Random(seed + 1))
        if webhook_url:
            side.connect(webhook_url.rstrip("/"))
            env.pop("SALESFORCE_CDC", None)  # outbound messages already deliver: one intake, not both
        console.print(f"{side.label} sandbox running; in another shell, set:", markup=False)
        for name, value in env.items():
            console.print(f"export {name}={shlex.quote(value)}", markup=False, highlight=False)
        console.print(f"then e.g. `leadtherm setup {crm}`; Ctrl-C stops the sandbox", markup=False)
        console.print(f"a rep's change (not leadtherm's own): {side.rep_example}", markup=False, highlight=False)
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print(f"{side.label} sandbox stopped", markup=False)
    finally:
        side.stop()
