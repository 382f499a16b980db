"""What-if: two rule sets on the same holdout as calibrate, the moves between bands, the lift of the top 20%."""

from __future__ import annotations

from pathlib import Path

from harness.calibration_data import write_history, write_mapping
from integration.calibration.calibrate import calibrate
from integration.calibration.history import read_history
from integration.domain.model import Temperature
from integration.domain.whatif import Sample, preview, top_lift, what_if
from mappings.loader import load_file
from mappings.schema import CrmMapping, ScoringRules
from tests.conftest import NOW, MakeLead


def test_top_lift_is_the_top_fifths_conversion_over_the_overall_rate() -> None:
    scores = [90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0, 0.0]
    outcomes = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    rate, lift = top_lift(scores, outcomes)
    assert rate == 1.0 and lift == 1.0 / 0.3


def test_preview_assesses_each_sample_with_both_rule_sets(rules: ScoringRules, lead: MakeLead) -> None:
    # Both samples are warm by the defaults (scores in the 40s); a warm band from 50 makes them cool.
    edited = rules.model_copy(update={"temperature": rules.temperature.model_copy(update={"warm": 50, "hot": 75})})
    rows = preview([Sample(lead(), "Acme"), Sample(lead(record_id="52", page_views=0), None)], rules, edited, NOW)
    assert [r.moved for r in rows] == [True, True]
    assert rows[0].before.temperature is Temperature.WARM and rows[0].after.temperature is Temperature.COOL
    assert rows[0].before.score == rows[0].after.score


def test_identical_rules_move_nothing_and_score_the_same(rules: ScoringRules, tmp_path: Path) -> None:
    history = read_history(
        write_history(tmp_path / "h.csv", rows=600), load_file(CrmMapping, write_mapping(tmp_path / "m.yaml")),
        "won", "closed_at",
    )  # fmt: skip
    result = what_if(history, rules, rules)
    assert result.current == result.edited
    assert result.unchanged == 600 and result.warmer == result.cooler == 0
    assert result.holdout == 180 and sum(b.leads for b in result.current.bands) == 180


def test_the_holdout_auc_of_the_current_rules_is_the_one_calibrate_reports(rules: ScoringRules, tmp_path: Path) -> None:
    history = read_history(
        write_history(tmp_path / "h.csv", rows=1500), load_file(CrmMapping, write_mapping(tmp_path / "m.yaml")),
        "won", "closed_at",
    )  # fmt: skip
    learned = calibrate(history, rules, 0.3, 7)
    result = what_if(history, rules, learned.rules, 0.3, 7)
    assert result.current.auc == learned.current_auc  # the same split, the same scores
    assert result.edited.auc == learned.points_auc
    assert result.edited.auc > result.current.auc
    assert result.warmer + result.cooler + result.unchanged == 1500
