"""The fit x engagement grid: cells A1-D4 by the cut points declared in scoring.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from harness.calibration_data import write_history, write_mapping
from harness.packaged_copy import copy_packaged
from integration.cli import app
from integration.domain.grid import grid_cell
from integration.domain.model import Lead
from integration.domain.outputs import assessment_outputs
from integration.domain.scoring import assess
from mappings.grammar import SCORING_FILE
from mappings.loader import read_yaml, validate
from mappings.schema import GridCuts, ScoringRules

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PACKAGED = "mappings/scoring.yaml"


def test_the_best_fit_most_engaged_record_is_a1_and_the_worst_d4() -> None:
    cuts = GridCuts()
    assert grid_cell(100, 100, cuts) == "A1"
    assert grid_cell(0, 0, cuts) == "D4"


def test_a_cut_point_belongs_to_the_better_cell() -> None:
    cuts = GridCuts(fit=[80, 60, 40], engagement=[70, 30, 10])
    assert grid_cell(80, 70, cuts) == "A1"
    assert grid_cell(79, 69, cuts) == "B2"
    assert grid_cell(40, 10, cuts) == "C3"
    assert grid_cell(39, 9, cuts) == "D4"


@pytest.mark.parametrize("cuts", [[75, 50], [50, 75, 25], [75, 50, 0], [120, 50, 25], [75, 75, 25]])
def test_cut_points_must_be_three_falling_values_within_the_scale(cuts: list[int]) -> None:
    with pytest.raises(ValidationError, match="three cut points"):
        GridCuts(fit=cuts)


def test_scoring_yaml_may_declare_the_cut_points_and_every_assessment_carries_its_cell() -> None:
    packaged = Path(PACKAGED).read_text(encoding="utf-8")
    text = packaged.replace("fit: [75, 50, 25]", "fit: [90, 60, 30]").replace(
        "engagement: [75, 50, 25]", "engagement: [60, 40, 20]"
    )
    rules = validate(ScoringRules, read_yaml(text, SCORING_FILE), SCORING_FILE)
    assert rules.grid == GridCuts(fit=[90, 60, 30], engagement=[60, 40, 20])
    lead = Lead.of("hubspot", "1", title="VP Sales", seniority="director", company_size=300, page_views=12)
    assessment = assess(lead, rules, NOW)
    assert assessment.grid == grid_cell(assessment.fit, assessment.engagement, rules.grid)
    assert assessment_outputs(assessment)["grid"] == assessment.grid


def test_calibrated_rules_keep_the_admins_grid_cut_points(tmp_path: Path) -> None:
    folder = copy_packaged(tmp_path / "mappings")
    scoring = folder / SCORING_FILE
    scoring.write_text(scoring.read_text(encoding="utf-8").replace("fit: [75, 50, 25]", "fit: [80, 55, 30]"))
    history, mapping = (
        write_history(tmp_path / "history.csv", rows=2500, seed=3),
        write_mapping(tmp_path / "sheet.yaml"),
    )
    out = tmp_path / "calibrated.yaml"
    args = ["calibrate", str(history), "--mapping", str(mapping), "--outcome", "won", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--mappings", str(folder)])
    assert result.exit_code == 0, result.stdout + result.stderr
    calibrated = validate(ScoringRules, read_yaml(out.read_text(encoding="utf-8"), SCORING_FILE), SCORING_FILE)
    assert calibrated.grid == GridCuts(fit=[80, 55, 30])
