"""The operator's commands on the embedded backend: `dlq list`, `dlq replay`, `explain`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.sqlite import Database, SqliteStateStore, SqliteWorkQueue
from integration.cli import app
from integration.ports import AuditEntry, ChangeEvent, RecordRef, StoredAssessment

runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that rich does not wrap the reasons
REF = RecordRef("hubspot", "contact", "51")
AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    path = tmp_path / "leadtherm.db"
    monkeypatch.setenv("LEADTHERM_DB", str(path))
    return Database(path)


def test_dlq_list_shows_the_reason_and_replay_puts_it_back(db: Database) -> None:
    queue = SqliteWorkQueue(db)
    queue.enqueue([ChangeEvent("hubspot:62515:9", REF)])
    queue.dead_letter(queue.lease(10, 30), "HubSpot rejected the request: PROPERTY_DOESNT_EXIST leadtherm_score")
    listed = runner.invoke(app, ["dlq", "list"])
    assert listed.exit_code == 0
    assert "PROPERTY_DOESNT_EXIST" in listed.stdout and "hubspot:contact:51" in listed.stdout
    replayed = runner.invoke(app, ["dlq", "replay"])
    assert replayed.exit_code == 0 and "replayed 1 event" in replayed.stdout
    assert queue.stats().dead_letters == 0 and queue.stats().depth == 1
    assert "empty" in runner.invoke(app, ["dlq", "list"]).stdout


def test_explain_prints_points_per_rule_temperature_stage_and_history(db: Database) -> None:
    state = SqliteStateStore(db)
    state.save(
        REF,
        StoredAssessment(
            64, 70, 58, "warm", "mql", [("fit", "Decision-maker title", 25.0), ("engagement", "Forms submitted", 16.0)],
            "Learn the need", AT, AT, "cool", None,
        ),
    )  # fmt: skip
    state.append_audit(
        [AuditEntry(REF, AT, "write", {"temperature": ("cool", "warm")}, ["fit: Decision-maker title (+25)"])]
    )
    shown = runner.invoke(app, ["explain", "hubspot", "51"])
    assert shown.exit_code == 0, shown.output
    for text in ("score 64", "warm", "mql", "temperature: cool → warm", "from cool"):
        assert text in shown.stdout
    [rule] = [line for line in shown.stdout.splitlines() if "Decision-maker title" in line and "│ fit" in line]
    assert "+25" in rule and "+25.0" not in rule  # points as a person writes them


def test_explain_for_an_unknown_record_says_so_and_exits_2_as_dlq_replay_of_an_unknown_id(db: Database) -> None:
    shown = runner.invoke(app, ["explain", "hubspot", "999"])
    assert shown.exit_code == 2 and "no assessment stored" in shown.output
    replayed = runner.invoke(app, ["dlq", "replay", "no-such-letter"])
    assert replayed.exit_code == shown.exit_code and "not in the dead-letter queue" in replayed.output


def test_explain_says_which_field_held_a_value_outside_its_map(tmp_path: Path, db: Database) -> None:
    # Through the pipeline, so the stored assessment is what a real pass keeps.
    from integration.service.worker import drain
    from tests.pipeline_world import make_world

    (tmp_path / "world").mkdir()
    world = make_world(tmp_path / "world")
    ref = world.contact("88", numemployees="5000-10000")
    world.queue.enqueue([world.event(ref, "e88")])
    drain(world.pipeline)
    [stored] = world.state.load([ref]).values()
    assert stored.unmapped == ("numemployees",)
    SqliteStateStore(db).save(RecordRef("hubspot", "contact", "88"), stored)
    shown = runner.invoke(app, ["explain", "hubspot", "88"])
    assert shown.exit_code == 0, shown.output
    assert "numemployees held a value its map does not list" in shown.stdout
    assert "5000-10000" not in shown.stdout
