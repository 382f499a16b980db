"""The CLI per named score: `check` reads scoring.<name>.yaml, `score --score NAME` scores its segment with its
rules, `score --score all` adds each named score's columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.hubspot.flatten import flatten
from examples import generate
from harness.calibration_data import write_history, write_mapping
from integration.cli import app
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess, segment_holds
from integration.files.exports import read_export
from integration.service.worker import drain
from mappings.loader import load_scoring, read_yaml, validate
from mappings.schema import NamedScoringRules
from tests.test_named_scores import admin_folder, named_world

EXPORT = generate.HERE / "hubspot_contacts.csv"
AS_OF = generate.REFERENCE.isoformat()
runner = CliRunner(env={"COLUMNS": "200", "HUBSPOT_ACCESS_TOKEN": ""})


def _score(folder: Path, *args: str) -> tuple[int, str, str]:
    ran = runner.invoke(
        app, ["score", str(EXPORT), "--crm", "hubspot", "--mappings", str(folder), "--as-of", AS_OF, *args]
    )
    return ran.exit_code, ran.stdout, ran.stderr


def _expected(folder: Path, name: str) -> dict[str, int]:
    """Record id -> the named score's score, for the export's rows in its segment."""
    config = load_scoring(["hubspot"], folder)
    score = next(s for s in config.scores if s.name == name)
    normalizer = Normalizer(config.mappings["hubspot"])
    found = {}
    for row in read_export(EXPORT):
        lead = normalizer.lead(flatten(row.record)[1])
        if segment_holds(score.segment, lead.values, generate.REFERENCE):
            found[lead.record_id] = assess(lead, score.rules, generate.REFERENCE).score
    return found


def test_check_reads_the_named_scores_and_lists_them_as_valid(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    ran = runner.invoke(app, ["check", str(folder)])
    assert ran.exit_code == 0, ran.stderr
    assert "scoring.analytics.yaml" in ran.stdout and "scoring.stores.yaml" in ran.stdout
    assert "not checked" not in ran.stderr


def test_check_reports_a_segment_on_an_unknown_attribute_with_its_file_and_line(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    named = folder / "scoring.stores.yaml"
    named.write_text(named.read_text().replace("attribute: industry", "attribute: industy", 1))
    ran = runner.invoke(app, ["check", str(folder)])
    assert ran.exit_code != 0
    line = next(n for n, text in enumerate(named.read_text().splitlines(), 1) if "industy" in text)
    assert f"scoring.stores.yaml:{line} segment.all[0].attribute" in ran.stderr, ran.stderr


def test_score_with_a_named_score_scores_its_segment_with_its_rules(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    code, stdout, stderr = _score(folder, "--score", "stores", "--format", "csv")
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    expected = _expected(folder, "stores")
    assert {r["id"]: int(r["score"]) for r in rows} == expected
    assert "outside the segment of stores" in stderr


def test_score_all_adds_each_named_scores_columns_empty_outside_its_segment(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    code, stdout, stderr = _score(folder, "--score", "all", "--format", "json")
    assert code == 0, stderr
    rows = json.loads(stdout)
    analytics = _expected(folder, "analytics")
    assert len(rows) == generate.ROWS
    assert {r["id"]: r["analytics_score"] for r in rows if r["analytics_score"] is not None} == analytics
    assert all(r["analytics_temperature"] is None for r in rows if r["id"] not in analytics)
    assert {"stores_score", "stores_temperature"} <= set(rows[0])


def test_score_names_the_known_scores_for_an_unknown_one(tmp_path: Path) -> None:
    code, _, stderr = _score(admin_folder(tmp_path), "--score", "analytic")
    assert code != 0
    assert "analytics" in stderr and "stores" in stderr


def test_calibrate_a_named_score_learns_on_its_segments_leads_and_keeps_the_segment(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    history = write_history(tmp_path / "history.csv", rows=2500, seed=3)
    mapping = write_mapping(tmp_path / "sheet.yaml")
    out = tmp_path / "analytics.yaml"
    args = ["calibrate", str(history), "--mapping", str(mapping), "--outcome", "won", "--out", str(out)]
    ran = runner.invoke(app, [*args, "--mappings", str(folder), "--score", "analytics", "--force"])
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    with history.open(newline="") as handle:
        in_segment = sum(row["industry"] == "Software" for row in csv.DictReader(handle))
    text = out.read_text()
    assert f"the segment's {in_segment} of 2500 leads" in text
    learned = validate(NamedScoringRules, read_yaml(text, "out"), "out")
    analytics = next(s for s in load_scoring(["hubspot"], folder).scores if s.name == "analytics")
    assert tuple(learned.segment) == analytics.segment
    assert learned.next_actions == analytics.rules.next_actions  # kept from the score's own rules


def test_explain_a_named_score_shows_what_was_last_written_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = admin_folder(tmp_path)
    world = named_world(tmp_path / "world", load_scoring(["hubspot"], folder))
    ref = world.contact("77", industry="Software")  # in the analytics segment, not in stores
    world.queue.enqueue([world.event(ref, "e77")])
    drain(world.pipeline)
    monkeypatch.setenv("LEADTHERM_DB", str(tmp_path / "world" / "leadtherm.db"))
    held = world.crm.records[ref]
    shown = runner.invoke(app, ["explain", "hubspot", "77", "--mappings", str(folder), "--score", "analytics"])
    assert shown.exit_code == 0, shown.output
    assert f"analytics: score {held['leadtherm_analytics_score']}" in shown.stdout
    assert held["leadtherm_analytics_temperature"] in shown.stdout
    assert f"next action: {held['leadtherm_analytics_next_action']}" in shown.stdout
    default = runner.invoke(app, ["explain", "hubspot", "77", "--mappings", str(folder)])
    assert "analytics." not in default.stdout  # the default score's explanation stays its own
    other = runner.invoke(app, ["explain", "hubspot", "77", "--mappings", str(folder), "--score", "stores"])
    assert other.exit_code != 0 and "never in its segment" in other.stderr


def test_check_one_named_score_file_checks_it_against_the_mappings_beside_it(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    named = folder / "scoring.analytics.yaml"
    assert runner.invoke(app, ["check", str(named)]).exit_code == 0
    named.write_text(named.read_text().replace("attribute: industry", "attribute: sector", 1))
    ran = runner.invoke(app, ["check", str(named)])
    assert ran.exit_code != 0 and "segment tests 'sector'" in ran.stderr


def test_score_all_as_a_table_shows_each_named_scores_columns(tmp_path: Path) -> None:
    code, stdout, stderr = _score(admin_folder(tmp_path), "--score", "all")
    assert code == 0, stderr
    header = next(line for line in stdout.splitlines() if "analytics_score" in line)
    assert "analytics_temperature" in header and "stores_score" in header
