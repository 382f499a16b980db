"""Read CRM exports (CSV with the CRM's field names, or a JSON array of API records), row by row."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from integration.errors import LeadthermError
from mappings.documents import DocumentError, load_json

# Tried in order when no encoding is given: UTF-8 (with or without BOM), then what Excel on
# Windows writes (cp1252, which decodes almost any byte: it goes last).
DETECTED = ("utf-8-sig", "cp1252")
DELIMITERS = ",;\t"  # Excel writes ; where the decimal separator is a comma (de, pl, sv), and tab on "Text" export
SNIFF_BYTES = 1024
_CHUNK = 1 << 20
PROGRESS_EVERY = 1000  # rows between two progress updates (each asks the OS for the offset)


class ExportError(LeadthermError):
    """The export file as a whole cannot be read."""


class ExportRow(NamedTuple):  # a tuple: made once per row of exports of any size
    position: str  # "row 12" (CSV line) or "record 3" (JSON index), for error messages
    record: Mapping[str, Any]


@dataclass(frozen=True)
class Export:
    """An export checked to decode with `encoding`; its rows are read from the file on each pass."""

    path: Path
    encoding: str
    delimiter: str = ","

    @property
    def detected_non_utf8(self) -> bool:
        return self.encoding not in ("utf-8", "utf-8-sig")

    @property
    def is_json(self) -> bool:
        return self.path.suffix.lower() == ".json"

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def columns(self) -> list[str]:
        """The CSV header, or the keys of the first JSON record ([] when there is none)."""
        for row in self.rows():
            return list(row.record)
        return []

    def rows(self, progress: ReadProgress | None = None) -> Iterator[ExportRow]:
        """The rows in file order; `progress` learns how many bytes have been read so far."""
        if self.is_json:
            yield from _json_rows(self.path, self.path.read_bytes().decode(self.encoding))
            return
        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
            yield from _csv_rows(self.path, text, self.delimiter, _Tell(raw, progress))


class ReadProgress:
    """Told the bytes read so far after each row (a no-op by default)."""

    def advance(self, done_bytes: int) -> None:
        """Called after each row with the file offset read up to."""


@dataclass(frozen=True, slots=True)
class _Tell:
    raw: BinaryIO
    progress: ReadProgress | None


def _known_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise ExportError(f"unknown encoding {name!r} (e.g. utf-8, cp1252, latin-1)") from exc


def _decodes(path: Path, encoding: str) -> tuple[int, int] | None:
    """None when the whole file decodes; else (line, byte offset) of the first byte that does not."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = 0, 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # The decoder may hold back up to 3 bytes of an unfinished character from the chunk before.
                start = max(exc.start, 0)
                return lines + chunk[:start].count(b"\n"), offset + start
            if not chunk:
                return None
            offset += len(chunk)
            lines += chunk.count(b"\n")


def _sniff_delimiter(path: Path, encoding: str) -> str:
    """`,`, `;` or tab, guessed from the first KB (the header and a row or two); `,` when unsure."""
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES).decode(encoding, errors="ignore").removeprefix("\ufeff")
    if "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only: a cut row would mislead the counts
    header = sample.split("\n", 1)[0]
    if not any(d in header for d in DELIMITERS):
        return ","  # one column: nothing to tell
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        # Sniffer wants the same count on every line; a header alone still names its separator.
        return max(DELIMITERS, key=header.count)


def open_export(path: Path, encoding: str | None = None) -> Export:
    """Check that an export decodes with `encoding` (or detect UTF-8 / cp1252) and guess its CSV delimiter."""
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give an export file (CSV or JSON)")
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    candidates = (_known_encoding(encoding),) if encoding else DETECTED
    try:
        for candidate in candidates:
            failure = _decodes(path, candidate)
            if failure is None:
                export = Export(path, candidate)
                if export.is_json:
                    return export
                return Export(path, candidate, _sniff_delimiter(path, candidate))
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror}") from exc
    tried = " or ".join(candidates)
    assert failure is not None
    raise ExportError(f"{path}:{failure[0]}: not valid {tried} text; pass --encoding (e.g. --encoding latin-1)")


def read_export(path: Path, encoding: str | None = None) -> Iterator[ExportRow]:
    """Rows of a CSV or JSON export, each with where it stands in the file."""
    yield from open_export(path, encoding).rows()


def _csv_rows(path: Path, text: io.TextIOWrapper, delimiter: str, tell: _Tell) -> Iterator[ExportRow]:
    first = text.read(1)
    if first and first != "\ufeff":
        lines: Iterator[str] = _prefixed(first, text)
    else:
        lines = text
    # csv.reader and a dict per row, as csv.DictReader makes them (blank lines skipped, a short row's
    # missing cells None, a long row's extra cells under None) without its Python-level __next__.
    reader = csv.reader(lines, delimiter=delimiter)
    progress = tell.progress
    try:
        fieldnames = next(reader, None)
        if not fieldnames:
            raise ExportError(f"{path}: empty CSV (no header row)")
        width = len(fieldnames)
        count = 0
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            record: dict[Any, Any] = dict(zip(fieldnames, row, strict=False))
            if len(row) != width:
                if len(row) > width:
                    record[None] = row[width:]
                else:
                    record.update(dict.fromkeys(fieldnames[len(row) :]))
            yield ExportRow(f"row {line}", record)
            count += 1
            if progress is not None and not count % PROGRESS_EVERY:
                progress.advance(tell.raw.tell())
    except csv.Error as exc:
        raise ExportError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from exc


def _prefixed(first: str, rest: Iterator[str]) -> Iterator[str]:
    """The text's lines with the character read to look for a BOM put back."""
    line = next(rest, "")
    yield first + line
    yield from rest


def _json_rows(path: Path, text: str) -> Iterator[ExportRow]:
    try:
        data = load_json(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ExportError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    except DocumentError as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise ExportError(f"{where}: {exc.message}") from None
    del text
    if isinstance(data, Mapping):
        data = data.get("results") or data.get("records")  # a saved API answer
    if not isinstance(data, list):
        raise ExportError(f"{path}: expected a JSON array of records")
    for index, record in enumerate(data, start=1):
        if not isinstance(record, Mapping):
            raise ExportError(f"{path}: record {index} is not an object")
        yield ExportRow(f"record {index}", record)
