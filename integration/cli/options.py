"""Options and arguments several commands share, and the small helpers they read their inputs with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer


def _crm_argument(name: str) -> str:
    from integration.composition.plugins import crm_name  # the entry points are read only when a CRM is named

    return crm_name(name)


def _mappings_option(value: Path | None) -> Path | None:
    """--mappings, else LEADTHERM_MAPPINGS (read through the declared settings), else None: the packaged files."""
    if value is not None:
        return value
    from integration.composition.settings import core_settings  # the core's alone: no plugin is loaded for it

    folder = core_settings().get("LEADTHERM_MAPPINGS")
    return Path(folder) if folder else None


MappingsOption = Annotated[
    Path | None,
    typer.Option(
        "--mappings",
        metavar="DIR",
        help="Folder of mapping files (default: $LEADTHERM_MAPPINGS or packaged).",
        callback=_mappings_option,
    ),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(help="Text encoding of the export (default: UTF-8, else cp1252 as Excel on Windows writes)."),
]
CrmOption = Annotated[
    list[str] | None, typer.Option("--crm", metavar="NAME", help="CRM(s) to use (default: every configured one).")
]
# Case-insensitive (`Acme` is acme); `--crm` values are folded in main() for every command.
CrmArgument = Annotated[
    str,
    typer.Argument(metavar="CRM", help="An installed CRM (see `leadtherm check --env`).", callback=_crm_argument),
]


def env() -> Mapping[str, str]:
    """The environment through the declared settings (the core's and every installed CRM's)."""
    from integration.composition.settings import load_settings

    return load_settings()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
