"""Options and arguments several commands share, and the small helpers they read their inputs with."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer


def _crm_argument(name: str) -> str:
    from integration.composition.plugins import crm_name  # the entry points are read only when a CRM is named

    return crm_name(name)


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
CrmOption = Annotated[
    list[str] | None, typer.Option("--crm", metavar="NAME", help="CRM(s) to use (default: every configured one).")
]
# Case-insensitive (`HubSpot` is hubspot); `--crm` values are folded in main() for every command.
CrmArgument = Annotated[str, typer.Argument(metavar="CRM", help="hubspot or salesforce", callback=_crm_argument)]


def env() -> dict[str, str]:
    return dict(os.environ)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
