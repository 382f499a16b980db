"""The `leadtherm` command line: score, check and the exit codes a script relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from harness.packaged_copy import copy_packaged
from integration.cli import app

LEADTHERM = [sys.executable, "-c", "from integration.cli import main; main()"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def test_version_prints_and_exits_zero() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "leadtherm 0.1.0" in result.stdout


def test_score_prints_one_json_row_per_record_with_reasons() -> None:
    result = runner.invoke(
        app,
        [
            "score",
            str(EXAMPLES / "hubspot_contacts.csv"),
            "--crm",
            "hubspot",
            "--format",
            "json",
            "--as-of",
            "2026-11-01T00:00:00",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 240
    assert set(rows[0]) == {"id", "score", "fit", "engagement", "temperature", "stage", "reasons", "points"}
    assert {r["temperature"] for r in rows} == {"cold", "cool", "warm", "hot"}


def test_score_reads_salesforce_api_records_from_json(tmp_path: Path) -> None:
    export = tmp_path / "leads.json"
    export.write_text(json.dumps({"records": [{
        "attributes": {"type": "Lead", "url": "/services/data/v59.0/sobjects/Lead/00Q5g000001AbCdEAK"},
        "Id": "00Q5g000001AbCdEAK", "Email": "cto@nordlys.example", "Title": "CTO", "NumberOfEmployees": 300,
        "LeadSource": "Partner Referral", "BANT_Need__c": True, "IsConverted": False,
    }]}))  # fmt: skip
    result = runner.invoke(app, ["score", str(export), "--crm", "salesforce", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].startswith("00Q5g000001AbCdEAK,")


def test_a_bad_row_is_reported_by_row_and_column_and_the_others_are_scored(tmp_path: Path) -> None:
    lines = (EXAMPLES / "hubspot_contacts.csv").read_text().splitlines()[:6]
    header = lines[0].split(",")
    bad = lines[3].split(",")
    bad[header.index("hs_analytics_num_page_views")] = "lots"
    lines[3] = ",".join(bad)
    export = tmp_path / "contacts.csv"
    export.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["score", str(export), "--crm", "hubspot", "--format", "csv"])
    assert result.exit_code == 1
    assert "row 4, column hs_analytics_num_page_views: expected a number" in result.output
    assert "lots" not in result.output  # a record's value may be personal data: never echoed
    assert len([line for line in result.stdout.splitlines() if line and line[0].isdigit()]) == 4


def test_check_on_broken_files_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path: Path) -> None:
    copy_packaged(tmp_path)
    scoring = tmp_path / "scoring.yaml"
    scoring.write_text(
        scoring.read_text().replace("    points: 25\n", "    points: ten\n", 1).replace("  warm: 40", "  warm: 90")
    )
    done = subprocess.run(
        [*LEADTHERM, "check", "--mappings", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    problems = [line for line in done.stderr.splitlines() if "scoring.yaml:" in line]
    assert len(problems) == 2
    assert any("fit[0].points: must be a number" in line for line in problems)
    assert "Traceback" not in done.stderr


def test_check_on_the_packaged_files_exits_0() -> None:
    done = subprocess.run([*LEADTHERM, "check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_missing_export_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run([*LEADTHERM, "score", str(tmp_path / "nope.csv")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "no such file" in done.stderr and "Traceback" not in done.stderr
