"""One calibration for the CLI and the console: leakage judged per column, forward splits, the noise verdict."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.calibration_data import write_history, write_mapping
from integration.calibration.history import History, read_history
from integration.calibration.session import Options, Outcome, run
from integration.cli import app
from integration.domain.normalize import Normalizer
from integration.domain.whatif import what_if
from mappings.loader import load_file, load_rules, read_yaml, validate
from mappings.schema import CrmMapping, Rule, ScoringRules
from tests.leakage_data import rare_values_rows, write_after_contact, write_noise, write_rare_values


def _all(rules: ScoringRules) -> list[Rule]:
    return [*rules.fit, *rules.engagement, *rules.penalties]


def _learned_attributes(outcome: Outcome) -> set[str]:
    return {name for r in _all(outcome.calibration.rules) for name in r.attributes}


def _cli(*args: str) -> tuple[int, str, str]:
    ran = CliRunner().invoke(app, ["calibrate", *args])
    return ran.exit_code, " ".join(ran.stdout.split()), " ".join(ran.stderr.split())


@pytest.fixture(scope="module")
def assessed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_after_contact(tmp_path_factory.mktemp("assessed"))


def test_a_column_the_rep_fills_after_contact_is_left_out_with_its_evidence(assessed: tuple[Path, Path]) -> None:
    history = read_history(assessed[0], load_file(CrmMapping, assessed[1]), "won")
    outcome = run(history, load_rules())
    [gone] = outcome.left_out
    leak = gone.suspect
    assert gone.attribute == "rep_assessment" and leak is not None
    # The evidence: the column alone ranks far beyond the rest, and 'High' holds most conversions near-certainly.
    assert leak.alone_auc > leak.without_auc + 0.1 and leak.with_auc > leak.without_auc
    high = leak.values[0]
    assert high.value == "'High'" and high.rate > 0.9 and high.conversions > 0.5 * sum(history.outcomes)
    assert "rep_assessment" not in _learned_attributes(outcome)
    assert any("leakage: column rep_assessment" in w and "left out" in w for w in outcome.warnings)


def test_a_rating_from_high_to_worst_is_named_even_when_high_holds_only_a_sixth_of_the_conversions(
    tmp_path: Path,
) -> None:
    history_file, mapping_file = write_after_contact(tmp_path, subtle=True)
    history = read_history(history_file, load_file(CrmMapping, mapping_file), "won")
    [gone] = run(history, load_rules()).left_out
    leak = gone.suspect
    assert gone.attribute == "rep_assessment" and leak is not None
    high = next(v for v in leak.values if v.value == "'High'")
    assert high.rate > 0.9 and high.conversions < 0.25 * sum(history.outcomes)
    assert "'Worst' converts at 0.0% over" in leak.reason


def test_keep_leaky_learns_from_the_after_contact_column_and_still_warns(assessed: tuple[Path, Path]) -> None:
    history = read_history(assessed[0], load_file(CrmMapping, assessed[1]), "won")
    outcome = run(history, load_rules(), Options(keep_leaky=True))
    assert not outcome.left_out and [s.attribute for s in outcome.kept_leaky] == ["rep_assessment"]
    assert "rep_assessment" in _learned_attributes(outcome)
    assert any("kept in the rules as asked" in w for w in outcome.warnings)


def test_the_leak_and_its_evidence_appear_in_the_cli_output_and_the_html_report(
    assessed: tuple[Path, Path], tmp_path: Path
) -> None:
    out, report = tmp_path / "rules.yaml", tmp_path / "report.html"
    code, stdout, stderr = _cli(str(assessed[0]), "--mapping", str(assessed[1]), "--outcome", "won",
                                "--out", str(out), "--report", str(report))  # fmt: skip
    assert code == 0, stdout + stderr
    assert "columns left out:" in stdout and "holdout AUC of this column alone" in stdout
    assert "'High': " in stdout and "converted (95" in stdout
    assert "warning: leakage: column rep_assessment (rep_assessment) = 'High'" in stderr
    page = report.read_text()
    assert "<h2>Columns left out</h2><table>" in page and "rep_assessment" in page.split("Columns left out")[1]
    assert "rep_assessment" not in out.read_text()


def test_an_attribute_declared_known_after_contact_is_left_out_and_said_so(tmp_path: Path) -> None:
    history_file, mapping_file = write_after_contact(tmp_path, declared=True)
    history = read_history(history_file, load_file(CrmMapping, mapping_file), "won")
    outcome = run(history, load_rules())
    [gone] = outcome.left_out
    assert (gone.attribute, gone.suspect) == ("rep_assessment", None)
    assert "known only after contact" in str(gone)
    assert "rep_assessment" not in _learned_attributes(outcome)
    assert not any("rep_assessment" in w for w in outcome.warnings)  # declared, so no leak to warn of


def test_a_built_in_attribute_can_be_declared_known_after_contact_too(tmp_path: Path) -> None:
    mapping_file = write_mapping(tmp_path / "sheet.yaml")
    text = mapping_file.read_text().replace(
        "lead_status: {field: status, transform: lower}",
        "lead_status: {field: status, transform: lower, known: after_contact}",
    )
    mapping_file.write_text(text)
    mapping = load_file(CrmMapping, mapping_file)
    assert mapping.known_after_contact == ["lead_status"]
    history = read_history(write_history(tmp_path / "history.csv", rows=1500), mapping, "won")
    outcome = run(history, load_rules())
    assert [(g.attribute, g.suspect) for g in outcome.left_out] == [("lead_status", None)]
    assert "lead_status" not in _learned_attributes(outcome)


def test_rare_low_converting_values_inside_informative_columns_drop_nothing(tmp_path: Path) -> None:
    rows = rare_values_rows()
    base = sum(r["won"] == "1" for r in rows) / len(rows)
    assert 0.08 < base < 0.13
    # What the old rule dropped a column for: one value converting under 2% over 50+ leads, in each of three.
    for column in ("channel", "landing_page", "month"):
        leads, wins = Counter(r[column] for r in rows), Counter(r[column] for r in rows if r["won"] == "1")
        assert any(n >= 50 and wins[v] / n < 0.02 for v, n in leads.items()), column
    history_file, mapping_file = write_rare_values(tmp_path)
    outcome = run(read_history(history_file, load_file(CrmMapping, mapping_file), "won"), load_rules())
    assert outcome.left_out == () and not any("leakage" in w for w in outcome.warnings)
    assert {"channel", "landing_page", "month"} <= _learned_attributes(outcome)
    assert outcome.separates


@pytest.fixture(scope="module")
def dated(assessed: tuple[Path, Path]) -> History:
    return read_history(assessed[0], load_file(CrmMapping, assessed[1]), "won", date_column="created")


def test_with_a_date_column_the_holdout_is_the_most_recent_leads_and_named(dated: History) -> None:
    outcome = run(dated, load_rules())
    split, created = outcome.split, dated.created
    assert split.forward and created is not None
    assert max(created[i] for i in split.train) < min(created[i] for i in split.test)
    assert len(split.test) == pytest.approx(0.3 * len(dated.leads), abs=10)
    first = min(created[i] for i in split.test)
    assert split.description == (
        f"forward: trained on the {len(split.train):,} leads created before {first:%Y-%m-%d}, "
        f"measured on the {len(split.test):,} created on or after (by created)"
    )
    assert sorted(outcome.calibration.test) == split.test  # calibrate measured on exactly that holdout


def test_what_if_measures_on_the_same_forward_holdout(dated: History) -> None:
    rules = load_rules()
    outcome = run(dated, rules)
    compared = what_if(dated, rules, outcome.calibration.rules)
    assert compared.split == outcome.split.description and compared.holdout == len(outcome.split.test)


def test_the_cli_names_the_forward_split_and_without_dates_the_stratified_one(
    assessed: tuple[Path, Path], tmp_path: Path
) -> None:
    common = [str(assessed[0]), "--mapping", str(assessed[1]), "--outcome", "won"]
    code, stdout, stderr = _cli(*common, "--date-column", "created", "--out", str(tmp_path / "a.yaml"))
    assert code == 0, stderr
    assert re.search(
        r"holdout forward: trained on the 2,0\d\d leads created before 2024-\d\d-\d\d, measured on the", stdout
    )
    code, stdout, _ = _cli(*common, "--out", str(tmp_path / "b.yaml"))
    assert "holdout stratified random 30% (seed 7): trained on 2,100 leads, measured on 900" in stdout


def test_a_date_column_that_is_not_there_names_the_closest(assessed: tuple[Path, Path], tmp_path: Path) -> None:
    code, _, stderr = _cli(str(assessed[0]), "--mapping", str(assessed[1]), "--outcome", "won",
                           "--date-column", "createdate", "--out", str(tmp_path / "r.yaml"))  # fmt: skip
    assert code == 2 and "no column 'createdate'; closest: created" in stderr


def test_a_noise_history_is_named_as_such_and_writes_nothing_unless_forced(tmp_path: Path) -> None:
    history_file, mapping_file = write_noise(tmp_path)
    out = tmp_path / "rules.yaml"
    common = [str(history_file), "--mapping", str(mapping_file), "--outcome", "won", "--out", str(out)]
    code, stdout, stderr = _cli(*common, "--report", str(tmp_path / "noise.html"))
    assert code == 1
    assert "The history does not separate converters from the rest" in (tmp_path / "noise.html").read_text()
    assert "the history does not separate converters from the rest" in stdout + stderr
    assert "includes 0.5" in stderr and f"no rules written to {out}" in stderr
    assert not out.exists()
    code, _, stderr = _cli(*common, "--force")
    assert code == 0 and "rules written anyway as asked (--force)" in stderr
    validate(ScoringRules, read_yaml(out.read_text(), "r"), "r")


def test_a_mapped_field_missing_from_the_history_is_an_error_naming_the_closest_columns(
    assessed: tuple[Path, Path], tmp_path: Path
) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text(assessed[1].read_text().replace("{field: trial_logins,", "{field: trial_login,"))
    out = tmp_path / "rules.yaml"
    code, _, stderr = _cli(str(assessed[0]), "--mapping", str(typo), "--outcome", "won", "--out", str(out))
    assert code == 2
    assert (
        "reads trial_logins from column 'trial_login', which the history does not have; closest: trial_logins" in stderr
    )
    assert not out.exists()


def test_a_value_that_falls_to_a_declared_default_is_no_notice_but_an_unlisted_one_without_is(tmp_path: Path) -> None:
    original = write_mapping(tmp_path / "sheet.yaml").read_text()
    mapped = "origin: {field: source, map: {web: web, event: event}, default: other}"
    without = "origin: {field: source, map: {web: web, event: event}}"
    for line, unmapped, read_as in ((mapped, (), "other"), (without, ("source",), None)):
        changed = tmp_path / "changed.yaml"
        changed.write_text(original.replace("origin: {field: source, transform: lower}", line))
        reading = Normalizer(load_file(CrmMapping, changed)).read({"lead_id": "1", "source": "partner"})
        assert reading.unmapped == unmapped
        assert reading.lead.get("origin") == read_as


def test_creation_dates_too_coarse_to_leave_a_training_part_fall_back_to_a_stratified_split() -> None:
    from datetime import UTC, datetime

    from integration.calibration.session import holdout_split
    from integration.domain.model import Lead

    # A sandbox seeds its leads within a second or two: most of them share the latest second.
    early, late = datetime(2026, 12, 7, 23, 59, 58, tzinfo=UTC), datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)
    created = tuple([early] * 10 + [late] * 90)
    leads = [Lead.of("hubspot", str(n)) for n in range(100)]
    history = History(
        "sandbox",
        leads,
        [int(n % 4 == 0) for n in range(100)],
        [late] * 100,
        created=created,
        created_from="createdate",
    )
    split = holdout_split(history, 0.3, 7)
    assert not split.forward and len(split.train) == 70
    assert "leave only 10 lead(s) before the most recent 30%, too few to learn from" in split.description
