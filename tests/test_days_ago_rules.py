"""`days_ago`: a rule on a date's age in days at the moment the lead is assessed ("trial started 7 to 30 days ago")."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.packaged_copy import copy_packaged
from integration.domain.model import Lead
from integration.domain.scoring import assess, rule_holds, rule_matches
from mappings.loader import PACKAGED, check_folder_report, load_file
from mappings.schema import Rule, ScoringRules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
LEADTHERM = [sys.executable, "-c", "from integration.cli import main; main()"]
TRIAL = "  trial_started: {field: trial_started, kind: datetime, label: Trial started}\n"
FIT = """
  - label: "Trial started: 7 to 30 days ago"
    attribute: trial_started
    days_ago: {at_least: 7, below: 30}
    points: 12
  - label: Big company on a fresh trial
    all:
      - {attribute: company_size, at_least: 500}
      - {attribute: trial_started, days_ago: {below: 14}}
    points: 8
"""
ENGAGEMENT = """
  - label: "Active in the last 3 days"
    attribute: last_engagement_at
    days_ago: {below: 3}
    points: 6
"""


def _folder(tmp_path: Path, fit: str = FIT, engagement: str = ENGAGEMENT) -> Path:
    folder = copy_packaged(tmp_path / "mappings")
    for crm in ("hubspot", "salesforce"):
        (folder / f"{crm}.yaml").write_text((PACKAGED / f"{crm}.yaml").read_text() + "\ncustom_attributes:\n" + TRIAL)
    text = (PACKAGED / "scoring.yaml").read_text()
    text = text.replace("\nengagement:\n", fit + "\nengagement:\n", 1)
    text = text.replace("\npenalties:\n", engagement + "\npenalties:\n", 1)
    (folder / "scoring.yaml").write_text(text)
    return folder


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def _rules(tmp_path: Path) -> ScoringRules:
    return load_file(ScoringRules, _folder(tmp_path) / "scoring.yaml")


def _labels(lead: Lead, rules: ScoringRules, now: datetime) -> set[str]:
    return {r.label for r in assess(lead, rules, now).reasons}


# ---------------------------------------------------------------------------- schema


def test_days_ago_rules_on_a_custom_date_and_on_last_engagement_check_clean(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert check_folder_report(folder).problems == []
    rules = load_file(ScoringRules, folder / "scoring.yaml")
    [trial] = [r for r in rules.fit if r.label.startswith("Trial started")]
    assert trial.days_ago is not None and (trial.days_ago.at_least, trial.days_ago.below) == (7, 30)
    # Engagement refuses `below` on counts; a date's age is not a count, so "in the last 3 days" is allowed there.
    [recent] = [r for r in rules.engagement if r.label == "Active in the last 3 days"]
    assert recent.days_ago is not None and recent.days_ago.below == 3


@pytest.mark.parametrize(
    ("days_ago", "message"),
    [({}, "days_ago needs at_least, below or both"), ({"at_least": 30, "below": 7}, "at_least must be smaller")],
)
def test_a_days_ago_range_needs_a_bound_in_order(days_ago: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Rule.model_validate({"label": "x", "attribute": "last_engagement_at", "days_ago": days_ago, "points": 1})


def test_days_ago_beside_another_test_is_two_conditions() -> None:
    with pytest.raises(ValidationError, match=r"needs exactly one condition .*\(has days_ago, present\)"):
        Rule.model_validate(
            {"label": "x", "attribute": "last_engagement_at", "days_ago": {"below": 3}, "present": True, "points": 1}
        )


def test_days_ago_on_a_built_in_text_attribute_is_refused_on_its_line(tmp_path: Path) -> None:
    bad = "\n  - label: Fresh title\n    attribute: title\n    days_ago: {below: 30}\n    points: 3\n"
    folder = _folder(tmp_path, fit=bad)
    [problem] = check_folder_report(folder).problems
    assert "days_ago needs a datetime attribute; title is text" in problem.message
    assert problem.line == _line_of(folder / "scoring.yaml", "label: Fresh title")


def test_days_ago_on_a_custom_text_attribute_is_refused_on_its_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    for crm in ("hubspot", "salesforce"):
        mapping = folder / f"{crm}.yaml"
        mapping.write_text(mapping.read_text().replace("kind: datetime", "kind: text"))
    problems = check_folder_report(folder).problems
    assert problems and all("days_ago needs a datetime attribute; trial_started is text" in p.message for p in problems)
    scoring = folder / "scoring.yaml"
    assert _line_of(scoring, "attribute: trial_started") in {p.line for p in problems}
    assert _line_of(scoring, "{attribute: trial_started, days_ago: {below: 14}}") in {p.line for p in problems}


# ---------------------------------------------------------------------------- scoring


def test_a_days_ago_rule_fires_by_the_dates_age_at_the_assessment_moment(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    label = "Trial started: 7 to 30 days ago"
    lead = Lead.of("hubspot", "1", trial_started=NOW - timedelta(days=10))
    assert label in _labels(lead, rules, NOW)
    assert label not in _labels(lead, rules, NOW - timedelta(days=4))  # 6 days old then
    assert label not in _labels(lead, rules, NOW + timedelta(days=20))  # 30 days old then
    assert assess(lead, rules, NOW).fit - assess(lead, rules, NOW + timedelta(days=20)).fit == 12


def test_at_least_includes_its_edge_and_below_excludes_it_to_the_second(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    label = "Trial started: 7 to 30 days ago"
    started = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    lead = Lead.of("hubspot", "1", trial_started=started)
    assert label in _labels(lead, rules, started + timedelta(days=7))
    assert label not in _labels(lead, rules, started + timedelta(days=7, seconds=-1))
    assert label in _labels(lead, rules, started + timedelta(days=30, seconds=-1))
    assert label not in _labels(lead, rules, started + timedelta(days=30))
    assert rule_matches(next(r for r in rules.fit if r.label == label), started, started + timedelta(days=7.5))


def test_a_missing_date_never_matches_days_ago_whatever_the_range(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    everything = Rule.model_validate(
        {"label": "any age", "attribute": "trial_started", "days_ago": {"at_least": -1e9}, "points": 1}
    )
    for lead in (Lead.of("hubspot", "1"), Lead.of("hubspot", "2", trial_started=None)):
        assert not any("Trial started" in label or "fresh trial" in label for label in _labels(lead, rules, NOW))
        assert not rule_matches(everything, lead.get("trial_started"), NOW)
    silent = Lead.of("hubspot", "3", last_engagement_at=None)
    assert "Active in the last 3 days" not in _labels(silent, rules, NOW)


def test_a_date_after_the_moment_is_a_negative_age() -> None:
    upcoming = Rule.model_validate(
        {"label": "Renews within 30 days", "attribute": "trial_started", "days_ago": {"at_least": -30, "below": 0},
         "points": 5}
    )  # fmt: skip
    assert rule_matches(upcoming, NOW + timedelta(days=12), NOW)
    assert not rule_matches(upcoming, NOW + timedelta(days=40), NOW)
    assert not rule_matches(upcoming, NOW - timedelta(days=1), NOW)


def test_rule_matches_needs_the_moment_for_a_days_ago_rule(tmp_path: Path) -> None:
    [trial] = [r for r in _rules(tmp_path).fit if r.label.startswith("Trial started")]
    with pytest.raises(ValueError, match="give the assessment moment"):
        rule_matches(trial, NOW - timedelta(days=10))


def test_a_compound_rule_with_days_ago_fires_only_while_both_hold(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    label = "Big company on a fresh trial"
    [compound] = [r for r in rules.fit if r.label == label]
    big = Lead.of("hubspot", "1", company_size=900, trial_started=NOW - timedelta(days=2))
    small = Lead.of("hubspot", "2", company_size=20, trial_started=NOW - timedelta(days=2))
    assert label in _labels(big, rules, NOW)
    assert label not in _labels(big, rules, NOW + timedelta(days=12))  # 14 days old: no longer fresh
    assert label not in _labels(small, rules, NOW)
    assert rule_holds(compound, big.values, NOW) and not rule_holds(compound, big.values, NOW + timedelta(days=12))
    with pytest.raises(ValueError, match="give the assessment moment"):
        rule_holds(compound, big.values)


def test_an_engagement_days_ago_rule_adds_engagement_by_how_recent_the_activity_is(tmp_path: Path) -> None:
    rules = _rules(tmp_path)
    lead = Lead.of("hubspot", "1", last_engagement_at=NOW - timedelta(days=1))
    assert "Active in the last 3 days" in _labels(lead, rules, NOW)
    assert "Active in the last 3 days" not in _labels(lead, rules, NOW + timedelta(days=2))


# ---------------------------------------------------------------------------- the command line


def test_check_through_the_cli_accepts_days_ago_and_locates_it_on_a_text_attribute(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    done = subprocess.run([*LEADTHERM, "check", "--mappings", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    bad = "\n  - label: Fresh title\n    attribute: title\n    days_ago: {below: 30}\n    points: 3\n"
    broken = _folder(tmp_path / "broken", fit=bad)
    done = subprocess.run([*LEADTHERM, "check", "--mappings", str(broken)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    line = _line_of(broken / "scoring.yaml", "label: Fresh title")
    assert any(f"scoring.yaml:{line} " in out and "days_ago needs a datetime attribute" in out
               for out in done.stderr.splitlines())  # fmt: skip
    assert "Traceback" not in done.stderr


def test_a_lead_is_due_again_when_its_date_ages_past_a_rules_edge(tmp_path: Path) -> None:
    fresh = "\n  - label: Fresh trial\n    attribute: trial_started\n    days_ago: {below: 10}\n    points: 60\n"
    rules = load_file(ScoringRules, _folder(tmp_path, fit=fresh, engagement="") / "scoring.yaml")
    started = NOW - timedelta(days=3, hours=5)
    lead = Lead.of("hubspot", "1", trial_started=started)
    now = assess(lead, rules, NOW)
    assert "Fresh trial" in {r.label for r in now.reasons} and now.temperature.value != "cold"
    # No event will come when the trial turns 10 days old: the sweep must be told to look again then.
    assert now.next_drop_at == started + timedelta(days=10)
    assert assess(lead, rules, now.next_drop_at).temperature.value == "cold"
    assert assess(lead, rules, now.next_drop_at - timedelta(seconds=1)).temperature == now.temperature
    stale = Lead.of("hubspot", "2", trial_started=NOW - timedelta(days=40))
    assert assess(stale, rules, NOW).next_drop_at is None  # past every edge, nothing will change


def test_whatif_reads_each_dates_age_at_its_leads_own_moment(tmp_path: Path) -> None:
    from integration.calibration.history import History
    from integration.domain.whatif import what_if
    from mappings.catalogue import custom_attribute

    current = load_file(ScoringRules, PACKAGED / "scoring.yaml")
    fresh = "\n  - label: Fresh trial\n    attribute: trial_started\n    days_ago: {below: 10}\n    points: 100\n"
    edited = load_file(ScoringRules, _folder(tmp_path, fit=fresh, engagement="") / "scoring.yaml")
    leads, as_of, outcomes = [], [], []
    for n in range(200):
        moment = NOW - timedelta(days=n)
        age = (n * 7) % 25  # days between the trial and the lead's own as-of moment
        leads.append(Lead.of("sheet", str(n), "lead", trial_started=moment - timedelta(days=age, hours=1)))
        as_of.append(moment)
        outcomes.append(int(age < 10) if n % 3 else n % 2)
    history = History("made", leads, outcomes, as_of, (custom_attribute("trial_started", "datetime", "Trial"),))
    expected = sum(1 for n in range(200) if (n * 7) % 25 < 10)
    result = what_if(history, current, edited)
    assert 0 < expected < 200
    assert result.warmer == expected and result.cooler == 0


def test_score_through_the_cli_reads_ages_at_its_as_of_moment(tmp_path: Path) -> None:
    import csv
    import json

    from integration.domain.normalize import Normalizer
    from mappings.loader import load_mapping

    recent = "\n  - label: Seen in the last 45 days\n    attribute: last_engagement_at\n"
    recent += "    days_ago: {below: 45}\n    points: 50\n"  # the largest fit rule: always among the top reasons
    folder = _folder(tmp_path, fit=recent, engagement="")
    export = Path(__file__).resolve().parent.parent / "examples" / "hubspot_contacts.csv"
    with export.open(newline="") as handle:
        leads = [Normalizer(load_mapping("hubspot")).lead(row) for row in csv.DictReader(handle)]
    seen: dict[str, set[str]] = {}
    for as_of in ("2026-11-01T00:00:00", "2026-12-10T00:00:00"):
        args = ["score", str(export), "--crm", "hubspot", "--format", "json", "--as-of", as_of]
        done = subprocess.run(
            [*LEADTHERM, *args, "--mappings", str(folder)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        seen[as_of] = {str(r["id"]) for r in rows if "Seen in the last 45 days" in json.dumps(r["reasons"])}
        moment = datetime.fromisoformat(as_of).replace(tzinfo=UTC)
        expected = {
            lead.record_id
            for lead in leads
            if (last := lead.get("last_engagement_at")) is not None and (moment - last) < timedelta(days=45)
        }
        assert expected and len(expected) < len(rows)
        assert seen[as_of] == expected
    assert seen["2026-12-10T00:00:00"] < seen["2026-11-01T00:00:00"]  # 39 days later, fewer were seen recently
