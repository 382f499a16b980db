"""Read CRM exports (CSV with the CRM's field names, or a JSON array of API records)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.errors import LeadthermError


class ExportError(LeadthermError):
    """The export file as a whole cannot be read."""


@dataclass(frozen=True, slots=True)
class ExportRow:
    position: str  # "row 12" (CSV line) or "record 3" (JSON index), for error messages
    record: Mapping[str, Any]


def read_export(path: Path) -> Iterator[ExportRow]:
    """Rows of a CSV or JSON export, each with where it stands in the file."""
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        yield from _json_rows(path)
    else:
        yield from _csv_rows(path)


def _csv_rows(path: Path) -> Iterator[ExportRow]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ExportError(f"{path}: empty CSV (no header row)")
        for row in reader:
            yield ExportRow(f"row {reader.line_num}", row)


def _json_rows(path: Path) -> Iterator[ExportRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if isinstance(data, Mapping):
        data = data.get("results") or data.get("records")  # a saved API answer
    if not isinstance(data, list):
        raise ExportError(f"{path}: expected a JSON array of records")
    for index, record in enumerate(data, start=1):
        if not isinstance(record, Mapping):
            raise ExportError(f"{path}: record {index} is not an object")
        yield ExportRow(f"record {index}", record)
