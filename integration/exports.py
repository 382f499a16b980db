"""Read CRM exports (CSV with the CRM's field names, or a JSON array of API records)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.errors import LeadthermError
from mappings.documents import DocumentError, load_json

# Tried in order when no encoding is given: UTF-8 (with or without BOM), then what Excel on
# Windows writes (cp1252, which decodes almost any byte: it goes last).
DETECTED = ("utf-8-sig", "cp1252")


class ExportError(LeadthermError):
    """The export file as a whole cannot be read."""


@dataclass(frozen=True, slots=True)
class ExportRow:
    position: str  # "row 12" (CSV line) or "record 3" (JSON index), for error messages
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Export:
    """A decoded export: its text, the encoding it was read with, and its rows."""

    path: Path
    text: str
    encoding: str

    @property
    def detected_non_utf8(self) -> bool:
        return self.encoding not in ("utf-8", "utf-8-sig")

    def columns(self) -> list[str]:
        """The CSV header, or the keys of the first JSON record ([] when there is none)."""
        for row in self.rows():
            return list(row.record)
        return []

    def rows(self) -> Iterator[ExportRow]:
        if self.path.suffix.lower() == ".json":
            yield from _json_rows(self.path, self.text)
        else:
            yield from _csv_rows(self.path, self.text)


def _known_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise ExportError(f"unknown encoding {name!r} (e.g. utf-8, cp1252, latin-1)") from exc


def open_export(path: Path, encoding: str | None = None) -> Export:
    """Decode an export with `encoding`, or detect UTF-8 / cp1252 when none is given."""
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give an export file (CSV or JSON)")
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror}") from exc
    candidates = (_known_encoding(encoding),) if encoding else DETECTED
    for candidate in candidates:
        try:
            return Export(path, raw.decode(candidate), candidate)
        except UnicodeDecodeError as exc:
            failure = exc
    line = raw[: failure.start].count(b"\n") + 1
    tried = " or ".join(candidates)
    raise ExportError(f"{path}:{line}: not valid {tried} text; pass --encoding (e.g. --encoding latin-1)")


def read_export(path: Path, encoding: str | None = None) -> Iterator[ExportRow]:
    """Rows of a CSV or JSON export, each with where it stands in the file."""
    yield from open_export(path, encoding).rows()


def _csv_rows(path: Path, text: str) -> Iterator[ExportRow]:
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        if not reader.fieldnames:
            raise ExportError(f"{path}: empty CSV (no header row)")
        for row in reader:
            yield ExportRow(f"row {reader.line_num}", row)
    except csv.Error as exc:
        raise ExportError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from exc


def _json_rows(path: Path, text: str) -> Iterator[ExportRow]:
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    except DocumentError as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise ExportError(f"{where}: {exc.message}") from None
    if isinstance(data, Mapping):
        data = data.get("results") or data.get("records")  # a saved API answer
    if not isinstance(data, list):
        raise ExportError(f"{path}: expected a JSON array of records")
    for index, record in enumerate(data, start=1):
        if not isinstance(record, Mapping):
            raise ExportError(f"{path}: record {index} is not an object")
        yield ExportRow(f"record {index}", record)
