"""Write scored rows as they come (CSV, a JSON array, or a table), never holding the whole export."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import IO, Protocol

from rich.console import Console
from rich.table import Table

from integration.cli.report import TEMPERATURE_STYLE, ScoredRow, columns, score_values
from integration.domain.model import Stage, Temperature

# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, and tab or
# carriage return, which some spreadsheets skip before looking for one of those.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TABLE_PAGE = 500  # rows shown as a boxed table; a longer export streams as aligned plain lines
_NUMBERS = (1, 2, 3)  # score, fit, engagement: right-aligned
_TEMPERATURE = 4
_ANSI = {Temperature.COLD: "34", Temperature.COOL: "36", Temperature.WARM: "33", Temperature.HOT: "1;31"}


def spreadsheet_safe(cell: str) -> str:
    """The cell with a leading single quote when a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


_SAFE_WORDS: dict[Temperature | Stage, str] = {word: spreadsheet_safe(word.value) for word in (*Temperature, *Stage)}


class RowWriter(Protocol):
    def write(self, row: ScoredRow) -> None: ...

    def close(self) -> None:
        """Finish the output (closing bracket, the table); called once, also for no rows."""


class CsvRows:
    """A header, then one line per row; every text cell spreadsheet-safe."""

    def __init__(self, stream: IO[str], named: Sequence[str] = ()) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(columns(named))
        self._writerow = self._writer.writerow

    def write(self, row: ScoredRow) -> None:
        if row.named:
            self._writerow([spreadsheet_safe(v) if isinstance(v, str) else v for v in score_values(row)])
            return
        # The common row without the list of values: the temperature and stage are the catalogue's words.
        v = row.verdict
        record_id, reasons = row.record_id, v.reasons
        self._writerow(
            (
                "'" + record_id if record_id.startswith(FORMULA_STARTS) else record_id,
                v.score,
                v.fit,
                v.engagement,
                _SAFE_WORDS[v.temperature],
                _SAFE_WORDS[v.stage],
                "'" + reasons if reasons.startswith(FORMULA_STARTS) else reasons,
            )
        )

    def close(self) -> None:
        """Nothing to finish: every line is complete."""


class JsonRows:
    """A JSON array written one object per line, so a reader can stream it too; never NaN or Infinity."""

    def __init__(self, stream: IO[str], named: Sequence[str] = ()) -> None:
        self._stream = stream
        self._separator = "[\n  "
        # json.dumps builds a new encoder on every call that is not all defaults (allow_nan is not).
        self._encode = json.JSONEncoder(allow_nan=False).encode
        self._columns = columns(named)

    def write(self, row: ScoredRow) -> None:
        record: dict[str, object] = dict(zip(self._columns, score_values(row), strict=True))
        # Every line of the score, not just the top ones: a program can check they add up to it. The
        # verdict holds them as JSON already: the object's closing brace makes way for them.
        head = self._encode(record)[:-1]
        self._stream.write(f'{self._separator}{head}, "points": {row.verdict.points}}}')
        self._separator = ",\n  "

    def close(self) -> None:
        self._stream.write("[]\n" if self._separator.startswith("[") else "\n]\n")


class TableRows:
    """A boxed rich table up to TABLE_PAGE rows; beyond, aligned plain lines with widths from the first page.

    A rich table measures every cell before printing: for 200,000 rows that is minutes and
    hundreds of MB, and nothing shows until the end.
    """

    def __init__(self, console: Console, named: Sequence[str] = ()) -> None:
        self._console = console
        self._columns = columns(named)
        self._page: list[ScoredRow] | None = []
        self._widths: list[int] = []
        self._colour = console.is_terminal and not console.no_color

    def write(self, row: ScoredRow) -> None:
        if self._page is None:
            self._line(row)
            return
        self._page.append(row)
        if len(self._page) > TABLE_PAGE:
            page, self._page = self._page, None
            cells = [_cells(r) for r in page]
            self._widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(self._columns[:-1])]
            self._console.file.write(self._join(list(self._columns)) + "\n")
            self._console.file.write("  ".join("-" * w for w in [*self._widths, len(self._columns[-1])]) + "\n")
            for r in page:
                self._line(r)

    def _join(self, cells: list[str], colour: str | None = None) -> str:
        *fixed, last = cells
        padded = [
            c.rjust(w) if i in _NUMBERS else c.ljust(w)
            for i, (c, w) in enumerate(zip(fixed, self._widths, strict=True))
        ]
        if colour:
            padded[_TEMPERATURE] = f"\x1b[{colour}m{padded[_TEMPERATURE]}\x1b[0m"
        return "  ".join([*padded, last])

    def _line(self, row: ScoredRow) -> None:
        colour = _ANSI[row.verdict.temperature] if self._colour else None
        self._console.file.write(self._join(_cells(row), colour) + "\n")

    def close(self) -> None:
        if self._page is None:
            self._console.file.flush()
            return
        table = Table(*self._columns, header_style="bold")
        for row in self._page:
            values = _cells(row)
            values[4] = f"[{TEMPERATURE_STYLE[row.verdict.temperature]}]{values[4]}[/]"
            table.add_row(*values)
        self._console.print(table)


def _cells(row: ScoredRow) -> list[str]:
    return ["" if v is None else str(v) for v in score_values(row)]


def row_writer(console: Console, fmt: str, named: Sequence[str] = ()) -> RowWriter:
    """A writer of scored rows; `named`: the named scores whose columns each row carries (`--score all`)."""
    if fmt == "csv":
        return CsvRows(console.file, named)
    if fmt == "json":
        return JsonRows(console.file, named)
    return TableRows(console, named)
