"""`leadtherm score` as a spreadsheet user and a script meet it: the installed CLI in a subprocess.

Exports of any size and separator are read; what is written opens safely in a spreadsheet and
parses as strict JSON; everything that is not a row goes to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.score_export import write_export
from harness.packaged_copy import copy_packaged

LEADTHERM = str(Path(sys.executable).parent / "leadtherm")  # the installed entry point
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hubspot_contacts.csv"
MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"
AS_OF = "2026-11-01T00:00:00"
CALIBRATE = [LEADTHERM, "calibrate", "--outcome", "converted"]


def _score(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEADTHERM, "score", *args, "--as-of", AS_OF], capture_output=True, text=True, timeout=300, check=False
    )


def _strict(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in JSON output")

    return json.loads(text, parse_constant=refuse)


def _example_rows(count: int) -> tuple[list[str], list[dict[str, str]]]:
    with EXAMPLE.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), [row for _, row in zip(range(count), reader, strict=False)]


def _write(path: Path, columns: list[str], rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


FORMULA_IDS = ["=1+1", "+2", "-3", "@SUM(A1)", "\t=4", "\r=5"]


def test_ids_that_start_like_a_formula_are_neutralised_in_the_csv(tmp_path: Path) -> None:
    columns, rows = _example_rows(len(FORMULA_IDS))
    for row, record_id in zip(rows, FORMULA_IDS, strict=True):
        row["hs_object_id"] = record_id
    result = _score(str(_write(tmp_path / "contacts.csv", columns, rows)), "--format", "csv")
    assert result.returncode == 0, result.stderr
    written = list(csv.reader(io.StringIO(result.stdout)))[1:]
    # Ids are read trimmed, so a leading tab or carriage return is gone; what follows still is a formula.
    assert [line[0] for line in written] == ["'" + i.strip() for i in FORMULA_IDS]


def test_a_rule_label_that_starts_like_a_formula_is_neutralised_in_the_reasons_cell(tmp_path: Path) -> None:
    folder = copy_packaged(tmp_path / "mappings")
    scoring = folder / "scoring.yaml"
    text = scoring.read_text(encoding="utf-8")
    scoring.write_text(text.replace("label: Came by referral", 'label: "=HYPERLINK(1) referral"'), encoding="utf-8")
    columns, rows = _example_rows(1)  # the first example contact came by referral, its top reason
    result = _score(str(_write(tmp_path / "c.csv", columns, rows)), "--format", "csv", "--mappings", str(folder))
    assert result.returncode == 0, result.stderr
    reasons = next(csv.DictReader(io.StringIO(result.stdout)))["reasons"]
    assert reasons.startswith("'=HYPERLINK(1) referral")


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_semicolon_and_tab_separated_exports_score_like_the_comma_separated_one(
    tmp_path: Path, delimiter: str, name: str
) -> None:
    columns, rows = _example_rows(40)
    comma = _score(str(_write(tmp_path / "comma.csv", columns, rows)), "--format", "csv")
    other = _score(str(_write(tmp_path / f"{name}.csv", columns, rows, delimiter)), "--format", "csv")
    assert other.returncode == 0, other.stderr
    assert other.stdout == comma.stdout
    assert len(other.stdout.splitlines()) == 41


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_summary_goes_to_stderr_and_stdout_stays_one_clean_document(tmp_path: Path, fmt: str) -> None:
    result = _score(str(EXAMPLE), "--format", fmt, "--summary")
    assert result.returncode == 0, result.stderr
    if fmt == "json":
        assert len(_strict(result.stdout)) == 240
    else:
        assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 240
    assert "temperature" in result.stderr and "share" in result.stderr
    assert "share" not in result.stdout


def test_repeated_ids_are_counted_and_reported_on_stderr(tmp_path: Path) -> None:
    columns, rows = _example_rows(10)
    rows[4]["hs_object_id"] = rows[1]["hs_object_id"]
    rows[7]["hs_object_id"] = rows[1]["hs_object_id"]
    rows[9]["hs_object_id"] = rows[2]["hs_object_id"]
    result = _score(str(_write(tmp_path / "c.csv", columns, rows)), "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert f"3 row(s) repeat an id seen earlier (first: {rows[1]['hs_object_id']} at row 6)" in result.stderr
    assert len(result.stdout.splitlines()) == 11


def test_a_large_export_streams_with_progress_on_stderr_and_every_row_out(tmp_path: Path) -> None:
    export = tmp_path / "large.csv"
    write_export(export, 30_000)  # about 4.5 MB: past the size that shows progress
    result = _score(str(export), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = _strict(result.stdout)
    assert len(rows) == 30_000
    assert rows[-1]["id"] == str(1_000_000 + 29_999)
    progress = [line for line in result.stderr.splitlines() if "% read" in line]
    assert len(progress) >= 5, result.stderr
    assert result.stderr.splitlines()[-1].endswith("done, 30,000 row(s) scored")


def test_a_long_table_streams_as_aligned_lines_with_every_row(tmp_path: Path) -> None:
    export = tmp_path / "long.csv"
    write_export(export, 1_200)
    table = _score(str(export))
    as_csv = _score(str(export), "--format", "csv")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "score", "fit", "engagement", "temperature", "stage", "reasons"]
    assert set(lines[1]) <= {"-", " "}
    body = lines[2:]
    assert len(body) == 1_200
    assert len({line.index(" " + line.split()[4] + " ") for line in body[:50]}) <= 2  # columns line up
    for line, row in zip(body, csv.DictReader(io.StringIO(as_csv.stdout)), strict=True):
        assert line.split()[:6] == [row[c] for c in ("id", "score", "fit", "engagement", "temperature", "stage")]


def test_a_short_table_is_still_a_boxed_table() -> None:
    result = _score(str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "┃ id" in result.stdout


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_a_json_export_is_one_line_and_exit_2(tmp_path: Path, token: str) -> None:
    export = tmp_path / "contacts.json"
    export.write_text(f'[\n  {{"hs_object_id": "1001",\n   "hs_analytics_num_page_views": {token}}}\n]\n')
    result = _score(str(export), "--format", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {export}:3: {token} is not a JSON number (RFC 8259 has no NaN or Infinity)"
    ]


def test_calibrate_refuses_nan_in_a_json_history_in_one_line(tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text('[{"hs_object_id": "1", "converted": true, "hs_analytics_num_page_views": NaN}]')
    result = subprocess.run(
        [*CALIBRATE, str(history), "--mapping", str(MAPPINGS / "hubspot.yaml"), "--out", str(tmp_path / "r.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {history}:1: NaN is not a JSON number (RFC 8259 has no NaN or Infinity)"
    ]
