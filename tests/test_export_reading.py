"""Reading a CRM export file row by row (integration.files.exports), whatever its shape."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from integration.files.exports import read_export

AWKWARD = (
    "hs_object_id,jobtitle,country\r\n"
    "1,CEO,Sweden\r\n"
    "\r\n"  # a blank line between rows
    '2,"Head of\nSales",Poland\r\n'  # a cell over two lines
    "3,Manager\r\n"  # a short row
    "4,Intern,Germany,extra,cells\r\n"  # a long row
    '5,"say ""hi""",\r\n'
)


def test_a_csv_export_reads_each_row_as_csv_dictreader_reads_it(tmp_path: Path) -> None:
    export = tmp_path / "contacts.csv"
    export.write_bytes(b"\xef\xbb\xbf" + AWKWARD.encode())
    rows = list(read_export(export))
    assert [row.record for row in rows] == list(csv.DictReader(io.StringIO(AWKWARD, newline="")))
    assert [row.position for row in rows] == ["row 2", "row 5", "row 6", "row 7", "row 8"]
