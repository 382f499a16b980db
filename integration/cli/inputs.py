"""Opening what a command reads: an export file, or the stored queue and state of a read-only command."""

from __future__ import annotations

from pathlib import Path

import typer

from integration.cli.options import env
from integration.composition.runtime import open_existing_backend
from integration.files.exports import Export, open_export
from integration.ports import StateStore, WorkQueue


def open_export_file(file: Path, encoding: str | None) -> Export:
    """Decode an export, saying so when it was not UTF-8 (the person may want to know why ü looks right)."""
    export = open_export(file, encoding)
    if export.detected_non_utf8 and encoding is None:
        typer.echo(f"{file}: not UTF-8; read as {export.encoding} (pass --encoding to choose)", err=True)
    return export


def stored() -> tuple[WorkQueue, StateStore, str]:
    """The queue and state of a command that only reads, saying which database (never creating one)."""
    queue, state, where = open_existing_backend(env())
    typer.echo(f"database: {where}", err=True)
    return queue, state, where
