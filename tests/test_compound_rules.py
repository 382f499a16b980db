"""Compound rules: points earned once when all of a rule's conditions hold, like HubSpot's AND groups."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from harness.packaged_copy import copy_packaged
from integration.cli import app
from integration.domain.model import Lead
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess, rule_holds
from integration.domain.whatif import attributes_tested
from integration.errors import ConfigError
from mappings.loader import PACKAGED, check_folder_report, load_file, load_mapping
from mappings.schema import Rule, ScoringRules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LEADTHERM = [sys.executable, "-c", "from integration.cli import main; main()"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LABEL = "Director at a mid-size company"
COMPOUND = f"""
  - label: {LABEL}
    all:
      - {{attribute: seniority, is: director}}
      - {{attribute: company_size, at_least: 50, below: 5000}}
    points: 10
"""


def _scoring_with(folder: Path, fit: str = "", engagement: str = "", penalties: str = "") -> Path:
    """The packaged scoring.yaml with rules appended to the end of a section."""
    text = (PACKAGED / "scoring.yaml").read_text()
    text = text.replace("\nengagement:\n", fit + "\nengagement:\n", 1)
    text = text.replace("\npenalties:\n", engagement + "\npenalties:\n", 1)
    text = text.replace("\nnext_actions:", penalties + "\nnext_actions:", 1)
    scoring = folder / "scoring.yaml"
    scoring.write_text(text)
    return scoring


def _folder(tmp_path: Path, **sections: str) -> Path:
    folder = copy_packaged(tmp_path / "mappings")
    _scoring_with(folder, **sections)
    return folder


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def _rules(tmp_path: Path, **sections: str) -> ScoringRules:
    return load_file(ScoringRules, _folder(tmp_path, **sections) / "scoring.yaml")


def _only(rules: ScoringRules, *keep: str) -> ScoringRules:
    """The rules with nothing but the named rules, so a score is exactly their points."""

    def pick(section: list[Rule]) -> list[Rule]:
        return [r for r in section if r.label in keep]

    return rules.model_copy(
        update={"fit": pick(rules.fit), "engagement": pick(rules.engagement), "penalties": pick(rules.penalties)}
    )


# ---------------------------------------------------------------------------- schema


def test_a_compound_rule_is_built_from_a_label_its_conditions_and_points() -> None:
    rule = Rule.model_validate(
        {
            "label": LABEL,
            "all": [{"attribute": "seniority", "is": "director"}, {"attribute": "company_size", "at_least": 50}],
            "points": 10,
        }
    )
    assert rule.attribute is None
    assert rule.attributes == ("seniority", "company_size")
    assert [c.attribute for c in rule.conditions] == ["seniority", "company_size"]


def test_a_compound_rule_in_scoring_yaml_is_valid_and_checks_clean(tmp_path: Path) -> None:
    folder = _folder(tmp_path, fit=COMPOUND)
    report = check_folder_report(folder)
    assert report.problems == []
    rules = load_file(ScoringRules, folder / "scoring.yaml")
    [rule] = [r for r in rules.fit if r.label == LABEL]
    assert rule.all_ is not None and len(rule.all_) == 2


def test_each_inside_all_is_refused_on_the_conditions_line(tmp_path: Path) -> None:
    compound = COMPOUND.replace("{attribute: company_size, at_least: 50, below: 5000}", "{attribute: visits, each: 2}")
    folder = _folder(tmp_path, fit=compound)
    [problem] = check_folder_report(folder).problems
    assert "each (and max_points) cannot be used inside all" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "{attribute: visits, each: 2}")
    assert problem.field.endswith(".all[1]")


def test_a_compound_rule_with_one_condition_is_refused_as_a_single_rule_in_disguise(tmp_path: Path) -> None:
    one = COMPOUND.replace("      - {attribute: company_size, at_least: 50, below: 5000}\n", "")
    folder = _folder(tmp_path, fit=one)
    [problem] = check_folder_report(folder).problems
    assert "all needs at least two conditions" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "    all:")


def test_a_condition_without_an_attribute_is_named_with_its_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, fit=COMPOUND.replace("{attribute: seniority, is: director}", "{is: director}"))
    [problem] = check_folder_report(folder).problems
    assert problem.field.endswith(".all[0].attribute")
    assert "required" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "{is: director}")


def test_a_condition_with_two_tests_or_a_kind_mismatch_is_refused_on_its_line(tmp_path: Path) -> None:
    two = COMPOUND.replace(
        "{attribute: seniority, is: director}", "{attribute: seniority, is: director, present: true}"
    )
    folder = _folder(tmp_path, fit=two)
    [problem] = check_folder_report(folder).problems
    assert "needs exactly one condition" in problem.message and "has is, present" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "present: true}")
    mismatch = COMPOUND.replace("{attribute: seniority, is: director}", "{attribute: seniority, at_least: 3}")
    folder = _folder(tmp_path / "again", fit=mismatch)
    [problem] = check_folder_report(folder).problems
    assert "at_least, below and each need a numeric attribute; seniority is text" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "{attribute: seniority, at_least: 3}")


def test_a_compound_rule_takes_no_attribute_or_test_of_its_own() -> None:
    conditions = [{"attribute": "seniority", "is": "director"}, {"attribute": "visits", "at_least": 3}]
    with pytest.raises(ValidationError, match="a compound rule has no attribute of its own"):
        Rule.model_validate({"label": "x", "attribute": "seniority", "all": conditions, "points": 1})
    with pytest.raises(ValidationError, match="conditions go under all, not beside it"):
        Rule.model_validate({"label": "x", "is": "director", "all": conditions, "points": 1})
    with pytest.raises(ValidationError, match="needs an attribute"):
        Rule.model_validate({"label": "x", "is": "director", "points": 1})


def test_engagement_constraints_apply_to_each_condition(tmp_path: Path) -> None:
    ranged = """
  - label: Engaged director
    all:
      - {attribute: seniority, is: director}
      - {attribute: visits, at_least: 2, below: 10}
    points: 5
"""
    folder = _folder(tmp_path, engagement=ranged)
    [problem] = check_folder_report(folder).problems
    assert "'Engaged director': engagement rules cannot use below" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "- label: Engaged director")


def test_every_conditions_attribute_must_exist_for_the_crms_in_use(tmp_path: Path) -> None:
    own = COMPOUND.replace("{attribute: seniority, is: director}", "{attribute: product_interest, is: analytics}")
    folder = _folder(tmp_path, fit=own)
    (folder / "hubspot.yaml").write_text(
        (PACKAGED / "hubspot.yaml").read_text()
        + "\ncustom_attributes:\n  product_interest: {field: product_interest, kind: integer}\n"
    )
    problems = check_folder_report(folder).problems
    line = _line_of(folder / "scoring.yaml", "{attribute: product_interest, is: analytics}")
    by_crm = {("salesforce" if "salesforce" in p.message else "hubspot"): p for p in problems}
    assert set(by_crm) == {"hubspot", "salesforce"}
    assert "'product_interest', which the salesforce mapping does not define" in by_crm["salesforce"].message
    assert "product_interest is integer: is/in need numbers" in by_crm["hubspot"].message
    assert {p.line for p in problems} == {line}
    assert {p.field for p in problems} == {f"fit[{_fit_index(folder)}].all[0].attribute"}
    assert check_folder_report(folder, in_use=["salesforce"]).problems == [by_crm["salesforce"]]


def _fit_index(folder: Path) -> int:
    data = load_file(ScoringRules, PACKAGED / "scoring.yaml")
    assert folder.exists()
    return len(data.fit)  # the compound rule is appended after the packaged fit rules


# ---------------------------------------------------------------------------- scoring


@pytest.mark.parametrize(
    ("seniority", "company_size", "holds"),
    [
        ("director", 300, True),
        ("director", 50, True),
        ("director", 5000, False),
        ("director", None, False),
        ("manager", 300, False),
        (None, 300, False),
    ],
)
def test_a_compound_rule_fires_only_when_all_its_conditions_hold(
    tmp_path: Path, seniority: str | None, company_size: int | None, holds: bool
) -> None:
    rules = _only(_rules(tmp_path, fit=COMPOUND), LABEL)
    [rule] = rules.fit
    lead = Lead.of("hubspot", "1", **{"seniority": seniority, "company_size": company_size})
    assessment = assess(lead, rules, NOW)
    earned = [r for r in assessment.reasons if r.label == LABEL]
    assert rule_holds(rule, lead.values) is holds
    assert earned == ([earned[0]] if holds else [])
    assert assessment.fit == (rule.points if holds else 0)


def test_a_compound_rule_is_one_reason_and_the_reasons_add_up_to_the_score(tmp_path: Path) -> None:
    rules = _rules(tmp_path, fit=COMPOUND)
    rules = rules.model_copy(update={"weights": rules.weights.model_copy(update={"fit": 1.0, "engagement": 0.0})})
    lead = Lead.of("hubspot", "1", **{"seniority": "director", "company_size": 300, "industry": "software"})
    assessment = assess(lead, rules, NOW)
    mine = [r for r in assessment.reasons if r.label == LABEL]
    assert len(mine) == 1 and mine[0].axis == "fit" and mine[0].points == 10
    fit_points = sum(r.points for r in assessment.reasons if r.axis == "fit") + rules.starting_points
    assert assessment.fit == fit_points
    assert assessment.score == fit_points
    without = assess(lead, _drop(rules, LABEL), NOW)
    assert assessment.score - without.score == 10


def _drop(rules: ScoringRules, label: str) -> ScoringRules:
    return rules.model_copy(update={"fit": [r for r in rules.fit if r.label != label]})


def test_a_compound_rule_under_engagement_decays_with_the_engagement_it_sits_in(tmp_path: Path) -> None:
    engaged = """
  - label: Director who requested a demo
    all:
      - {attribute: seniority, is: director}
      - {attribute: demo_requested, is: true}
    points: 40
"""
    rules = _only(_rules(tmp_path, engagement=engaged), "Director who requested a demo")
    values = {"seniority": "director", "demo_requested": True, "last_engagement_at": datetime(2026, 9, 15, tzinfo=UTC)}
    fresh = assess(Lead.of("hubspot", "1", **{**values, "last_engagement_at": NOW}), rules, NOW)
    silent = assess(Lead.of("hubspot", "1", **values), rules, NOW)
    assert fresh.engagement == 40
    assert 0 < silent.engagement < fresh.engagement
    assert any(r.label.startswith("No activity for") for r in silent.reasons)


def test_whatif_shows_every_attribute_a_compound_rule_tests(tmp_path: Path) -> None:
    rules = _only(_rules(tmp_path, fit=COMPOUND), LABEL)
    assert attributes_tested(rules) == ["seniority", "company_size"]


# ---------------------------------------------------------------------------- the command line


def test_check_through_the_cli_accepts_a_compound_rule_and_locates_a_broken_one(tmp_path: Path) -> None:
    folder = _folder(tmp_path, fit=COMPOUND)
    done = subprocess.run([*LEADTHERM, "check", "--mappings", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    broken = _folder(
        tmp_path / "broken", fit=COMPOUND.replace("{attribute: seniority, is: director}", "{is: director}")
    )
    done = subprocess.run([*LEADTHERM, "check", "--mappings", str(broken)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    line = _line_of(broken / "scoring.yaml", "{is: director}")
    assert any(f"scoring.yaml:{line} " in out and ".all[0].attribute" in out for out in done.stderr.splitlines())
    assert "Traceback" not in done.stderr


def _expected_holders(export: Path) -> set[str]:
    """The records whose normalised values meet both conditions, decided here without the scorer."""
    normalizer = Normalizer(load_mapping("hubspot"))
    with export.open(newline="") as handle:
        leads = [normalizer.lead(row) for row in csv.DictReader(handle)]
    return {
        lead.record_id
        for lead in leads
        if lead.values.get("seniority") == "director" and 50 <= (lead.values.get("company_size") or 0) < 5000
    }


def test_score_through_the_cli_gives_the_compound_reason_exactly_to_the_leads_that_meet_all(tmp_path: Path) -> None:
    # Worth the most of any fit rule, so that the CLI's top reasons always show it where it fires.
    folder = _folder(tmp_path, fit=COMPOUND.replace("points: 10", "points: 40"))
    export = EXAMPLES / "hubspot_contacts.csv"
    args = ["score", str(export), "--crm", "hubspot", "--format", "json", "--as-of", "2026-11-01T00:00:00"]
    done = subprocess.run([*LEADTHERM, *args, "--mappings", str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    holders = {row["id"] for row in rows if any(LABEL in reason for reason in _reasons(row))}
    expected = _expected_holders(export)
    assert expected and len(expected) < len(rows)
    assert holders == expected


def _reasons(row: dict[str, object]) -> list[str]:
    reasons = row["reasons"]
    return [str(r) for r in reasons] if isinstance(reasons, list) else str(reasons).split("; ")


def test_explain_through_the_cli_names_the_compound_rule_with_its_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.sqlite import Database, SqliteStateStore
    from integration.ports import RecordRef
    from integration.service.worker import drain
    from tests.pipeline_world import make_world

    folder = _folder(tmp_path, fit=COMPOUND)
    (tmp_path / "world").mkdir()
    # a head of marketing at a 100-500 company: both conditions hold
    world = make_world(tmp_path / "world", mappings=folder)
    ref = world.contact("77")
    world.queue.enqueue([world.event(ref, "e77")])
    drain(world.pipeline)
    [stored] = world.state.load([ref]).values()
    monkeypatch.setenv("LEADTHERM_DB", str(tmp_path / "leadtherm.db"))
    SqliteStateStore(Database(tmp_path / "leadtherm.db")).save(RecordRef("hubspot", "contact", "77"), stored)
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["explain", "hubspot", "77", "--mappings", str(folder)])
    assert shown.exit_code == 0, shown.output
    [line] = [line for line in shown.stdout.splitlines() if LABEL in line]
    assert "+5" in line  # its 10 fit points at the fit weight of 0.5


def test_a_broken_compound_rule_stops_load_with_a_located_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, fit=COMPOUND.replace("is: director}", "is: director, each: 2}"))
    with pytest.raises(ConfigError, match="cannot be used inside all"):
        load_file(ScoringRules, folder / "scoring.yaml")


def test_whatif_with_a_compound_rule_warms_only_leads_that_meet_all_its_conditions(tmp_path: Path) -> None:
    from harness.calibration_data import write_history, write_mapping
    from integration.calibration.history import read_history
    from integration.domain.whatif import what_if
    from mappings.schema import CrmMapping

    history = read_history(
        write_history(tmp_path / "h.csv", rows=600), load_file(CrmMapping, write_mapping(tmp_path / "m.yaml")),
        "won", "closed_at",
    )  # fmt: skip
    current = load_file(ScoringRules, PACKAGED / "scoring.yaml")
    edited = _rules(tmp_path, fit=COMPOUND.replace("seniority, is: director", "seniority, is: executive"))
    holders = [
        lead
        for lead in history.leads
        if lead.get("seniority") == "executive" and 50 <= (lead.get("company_size") or 0) < 5000
    ]
    result = what_if(history, current, edited)
    assert holders and result.cooler == 0
    assert 0 < result.warmer <= len(holders)
    assert result.edited.auc != result.current.auc


def test_calibrate_writes_a_compound_rule_it_was_given_as_an_ordinary_all_block(tmp_path: Path) -> None:
    # The learner builds a compound rule from plain data; the writer's text must read back as that rule.
    from dataclasses import replace

    from harness.calibration_data import write_history, write_mapping
    from integration.calibration.calibrate import calibrate
    from integration.calibration.history import read_history
    from integration.calibration.writer import scoring_yaml
    from mappings.loader import read_yaml, validate
    from mappings.schema import CrmMapping

    history = read_history(
        write_history(tmp_path / "h.csv", rows=600), load_file(CrmMapping, write_mapping(tmp_path / "m.yaml")),
        "won", "closed_at",
    )  # fmt: skip
    learned = calibrate(history, load_file(ScoringRules, PACKAGED / "scoring.yaml"), 0.3, 7)
    pair = Rule.model_validate(
        {
            "label": "Executive who requested a demo",
            "all": [{"attribute": "seniority", "in": ["executive", "no"]}, {"attribute": "demo_requested", "is": True}],
            "points": 7,
        }
    )
    rules = learned.rules.model_copy(update={"engagement": [*learned.rules.engagement, pair]})
    text = scoring_yaml(replace(learned, rules=rules), 7, 0.3)
    assert "    all:\n      - {attribute: seniority, in: [executive, 'no']}\n" in text
    assert validate(ScoringRules, read_yaml(text, "x"), "x").engagement[-1] == pair


@pytest.mark.parametrize(
    ("condition", "values"),
    [
        ({"attribute": "industry", "in": ["Software", "Banking"]}, ["software", "SOFTWARE", "retail", "", None]),
        ({"attribute": "seniority", "is": "Director"}, ["director", "manager", None]),
        ({"attribute": "title", "matches": "^head of"}, ["Head of Sales", "CEO", None]),
        ({"attribute": "company_size", "at_least": 50, "below": 5000}, [49, 50, 4999, 5000, 0, None]),
        ({"attribute": "company_size", "is": 300}, [300, 301, None]),
        ({"attribute": "demo_requested", "is": False}, [True, False, None]),
        ({"attribute": "country", "present": False}, ["germany", "", None]),
        ({"attribute": "country", "present": True}, ["germany", "", None]),
    ],
)
def test_each_condition_decides_exactly_as_the_same_single_rule(
    condition: dict[str, object], values: list[object]
) -> None:
    from integration.domain.scoring import rule_matches

    single = Rule.model_validate({"label": "single", **condition, "points": 1})
    other = {"attribute": "visits", "at_least": 0}
    compound = Rule.model_validate({"label": "compound", "all": [condition, other], "points": 1})
    for value in values:
        lead = {str(condition["attribute"]): value, "visits": 1}
        assert rule_holds(compound, lead) is rule_matches(single, value), value
