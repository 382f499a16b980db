"""Calibration learns the points of a known rule, keeps the hot gate, and reports honestly."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.calibration_data import write_history, write_mapping
from integration.calibration.bands import choose, temperature
from integration.calibration.binning import terms
from integration.calibration.calibrate import Calibration
from integration.calibration.checks import too_little
from integration.calibration.features import decay_factor, nice, number_label
from integration.calibration.history import History, read_history
from integration.calibration.session import run
from integration.calibration.writer import scoring_yaml
from integration.cli import app
from integration.domain.model import Lead, Temperature
from integration.domain.scoring import assess
from mappings.loader import PACKAGED, load_file, load_rules, read_yaml, validate
from mappings.schema import CrmMapping, Decay, Rule, ScoringRules

CURRENT = load_rules()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("history")
    return write_history(folder / "history.csv"), write_mapping(folder / "sheet.yaml")


@pytest.fixture(scope="module")
def mapping(files: tuple[Path, Path]) -> CrmMapping:
    return load_file(CrmMapping, files[1])


@pytest.fixture(scope="module")
def history(files: tuple[Path, Path], mapping: CrmMapping) -> History:
    return read_history(files[0], mapping, "won", outcome_date="closed_at")


@pytest.fixture(scope="module")
def result(history: History, mapping: CrmMapping) -> Calibration:
    return run(history, CURRENT).calibration


def _points(rules: ScoringRules, label: str) -> float:
    found = [r.points for r in [*rules.fit, *rules.engagement, *rules.penalties] if r.label == label]
    return found[0] if found else 0.0


def _all(rules: ScoringRules) -> list[Rule]:
    return [*rules.fit, *rules.engagement, *rules.penalties]


def test_the_learned_points_recover_the_generating_rules_ordering(result: Calibration) -> None:
    rules = result.rules
    executive, demo = _points(rules, "Seniority: executive"), _points(rules, "Requested a demo")
    webinar, free_mail = _points(rules, "Webinars attended: 1"), _points(rules, "Free-mail address")
    assert executive > demo > webinar > 0 > free_mail


def test_integer_points_rank_within_0005_of_the_learned_shapes_on_the_holdout(result: Calibration) -> None:
    assert result.points_auc >= result.model_auc - 0.005
    assert result.model_auc > 0.7
    assert result.points_auc > result.current_auc


def test_the_holdout_is_a_stratified_share_the_model_never_trained_on(result: Calibration) -> None:
    assert not set(result.train) & set(result.test)
    assert len(result.test) == pytest.approx(0.3 * len(result.history.leads), abs=1)
    share = sum(result.history.outcomes) / len(result.history.outcomes)
    assert sum(result.holdout_outcomes) / len(result.test) == pytest.approx(share, abs=0.005)


def test_a_planted_leaky_column_is_named_in_the_warnings_and_left_out_of_the_rules(
    history: History, mapping: CrmMapping, result: Calibration
) -> None:
    found = run(history, CURRENT).warnings
    assert any("column status" in w and "'customer'" in w and "left out" in w for w in found)
    assert not [r for r in _all(result.rules) if r.attribute == "lead_status"]


def test_fewer_than_about_100_conversions_is_warned_as_too_little_data() -> None:
    assert too_little([1] * 99 + [0] * 500) and "99 conversions" in too_little([1] * 99)[0]
    assert too_little([1] * 100) == []


def test_the_calibrated_file_keeps_the_hot_gate_and_passes_check(result: Calibration, tmp_path: Path) -> None:
    text = scoring_yaml(result, 7, 0.3)
    rules = validate(ScoringRules, read_yaml(text, "scoring.yaml"), "scoring.yaml")
    assert rules.qualification.required == CURRENT.qualification.required
    assert rules.next_actions == CURRENT.next_actions
    for name in ("hubspot.yaml", "salesforce.yaml"):
        (tmp_path / name).write_text((PACKAGED / name).read_text())
    (tmp_path / "scoring.yaml").write_text(text)
    assert CliRunner().invoke(app, ["check", "--mappings", str(tmp_path)]).exit_code == 0


def test_the_written_file_is_commented_in_the_default_style(result: Calibration) -> None:
    text = scoring_yaml(result, 7, 0.3)
    assert text.startswith("# leadtherm scoring rules, calibrated by `leadtherm calibrate` from history.csv")
    assert "  - label: 'Seniority: executive'    # log-odds +" in text
    assert "8 points double the odds of converting" in text
    assert "  required: [need, budget, authority, timeline]" in text


def test_behaviour_goes_to_engagement_and_negative_evidence_to_penalties(result: Calibration) -> None:
    rules = result.rules
    assert {r.label for r in rules.engagement} >= {"Requested a demo", "Webinars attended: 1"}
    assert "Free-mail address" in {r.label for r in rules.penalties}
    assert all(r.points > 0 and r.below is None for r in rules.engagement)
    assert all(r.points < 0 for r in rules.penalties)


def test_bands_raise_conversion_from_cold_to_hot_on_the_holdout(result: Calibration) -> None:
    filled = [b for b in result.bands if b.leads]
    assert len(filled) >= 3
    assert [b.rate for b in filled] == sorted(b.rate for b in filled)
    t = result.rules.temperature
    assert result.rules.stage.mql_score == t.warm


def test_band_edges_are_chosen_for_rising_conversion_and_hot_needs_qualification() -> None:
    scores = [s for s in range(100) for _ in range(30)]
    outcomes = [int((n * 7919) % 100 < s) for n, s in enumerate(scores)]  # conversion grows with the score
    qualified = [s % 2 == 0 for s in scores]
    cool, warm, hot = choose(scores, qualified, outcomes)
    assert 0 < cool < warm < hot <= 100
    assert temperature(hot + 1, False, (cool, warm, hot)) is Temperature.WARM


def test_engagement_decays_as_of_each_leads_outcome_date(history: History) -> None:
    decay = Decay(half_life_days=30, grace_days=7)
    closed = datetime(2026, 1, 31, tzinfo=UTC)
    assert decay_factor(closed - timedelta(days=37), closed, decay) == pytest.approx(0.5)
    assert decay_factor(None, closed, decay) == 1.0
    assert len(set(history.as_of)) > 100  # one moment per lead, from its closed_at


def test_without_dates_the_as_of_default_is_the_latest_engagement_not_the_clock(
    files: tuple[Path, Path], mapping: CrmMapping
) -> None:
    undated = read_history(files[0], mapping, "won")
    latest = max(lead.last_engagement_at for lead in undated.leads if lead.last_engagement_at)
    assert set(undated.as_of) == {latest}


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def salesforce_example() -> tuple[History, CrmMapping]:
    mapping = load_file(CrmMapping, PACKAGED / "salesforce.yaml")
    return read_history(EXAMPLES / "salesforce_leads.csv", mapping, "IsConverted"), mapping


@pytest.mark.parametrize("rows", [240, 160], ids=["whole-example", "first-160-rows"])
def test_a_status_that_holds_every_conversion_is_probable_leakage_on_small_data(
    salesforce_example: tuple[History, CrmMapping], rows: int
) -> None:
    history, _ = salesforce_example
    leads, outcomes = history.leads[:rows], history.outcomes[:rows]
    assert 5 <= sum(outcomes) < 50  # far fewer rows than the 50 an extreme rate otherwise needs
    part = replace(history, leads=leads, outcomes=outcomes, as_of=history.as_of[:rows])
    [gone] = run(part, CURRENT).left_out
    text = str(gone)
    assert text.startswith("leakage: column Status (lead_status) = 'Closed - Converted' (read as 'qualified')")
    assert f"holds {sum(outcomes)} of the {sum(outcomes)} conversions" in text


def test_calibrating_the_salesforce_example_warns_of_the_leak_and_learns_without_it(tmp_path: Path) -> None:
    out = tmp_path / "rules.yaml"
    ran = CliRunner().invoke(
        app,
        ["calibrate", str(EXAMPLES / "salesforce_leads.csv"), "--mapping", str(PACKAGED / "salesforce.yaml"),
         "--outcome", "IsConverted", "--out", str(out)],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    stderr = " ".join(ran.stderr.split())
    assert "leakage: column Status (lead_status) = 'Closed - Converted'" in stderr
    assert "too little data" in stderr
    rules = validate(ScoringRules, read_yaml(out.read_text(), "r"), "r")
    assert not [r for r in _all(rules) if r.attribute == "lead_status"]


@pytest.mark.parametrize(
    ("value", "label"),
    [(12_000_000, "12 million"), (45_000_000, "45 million"), (1_500_000, "1.5 million"), (12_345_678, "12.3 million"),
     (2_000_000_000, "2 billion"), (2_500, "2,500"), (17, "17"), (0.25, "0.25"), (0.00012, "0.00012")],
)  # fmt: skip
def test_cut_points_are_labelled_as_a_person_writes_numbers(value: float, label: str) -> None:
    assert number_label(value) == label


@pytest.mark.parametrize(
    ("value", "rounded"), [(12_345_678, 12_000_000), (2_480, 2_500), (123, 120), (17, 17), (0.374, 0.37), (7.5, 7.5)]
)
def test_learned_cut_points_are_rounded_to_two_significant_digits_but_small_counts_stay_exact(
    value: float, rounded: float
) -> None:
    assert nice(value) == rounded


def test_no_learned_label_uses_exponent_notation(salesforce_example: tuple[History, CrmMapping]) -> None:
    history, _ = salesforce_example
    # Every range a rule could be written for, whether or not this small history gives it points.
    cut = terms(history.leads, history.as_of, CURRENT, history.attributes, list(range(len(history.leads))))
    ranges = [(t, b) for t in cut for b in t.bins if b.kind == "range" and b.low is not None]
    assert any(t.name == "annual_revenue" for t, _ in ranges)
    for term, found in ranges:
        label = term.label_of(term.bins.index(found))
        assert not re.search(r"\de[+-]?\d", label), label
        assert number_label(found.low or 0) in label  # the label says the range's own edge


def test_the_starting_points_lift_every_score_but_are_never_a_reason(result: Calibration) -> None:
    rules = result.rules
    assert rules.starting_points == result.baseline > 0
    nobody = assess(Lead.of("sheet", "empty", "lead"), rules, datetime(2026, 10, 1, tzinfo=UTC))
    assert (nobody.score, nobody.reasons) == (result.baseline, ())
    labels = {r.label for r in _all(rules)}
    history = result.history
    for i in result.test[:300]:
        reasons = assess(history.leads[i], rules, history.as_of[i]).reasons
        assert all(r.label in labels or r.label.startswith("No activity for") for r in reasons)
        assert not any("starting" in r.label.casefold() for r in reasons)


def test_a_condition_every_lead_meets_is_not_learned_so_it_is_no_reason_on_every_record(result: Calibration) -> None:
    history = result.history
    assert all(lead.last_engagement_at is not None for lead in history.leads)  # "Recent activity" holds for all
    assert "Recent activity recorded" in {r.label for r in _all(CURRENT)}
    assert "Recent activity recorded" not in {r.label for r in _all(result.rules)}
    assert all(seen.share < 0.99 for seen in result.support.values())
