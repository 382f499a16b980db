"""Calibration learns the points of a known rule, keeps the hot gate, and reports honestly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integration.calibration.features import candidate_rules
from integration.calibration.history import CalibrationError, read_history
from integration.calibration.learn import Fitted, learn
from integration.calibration.report import warnings
from integration.calibration.writer import scoring_yaml
from integration.cli import app
from mappings.loader import PACKAGED, load_mapping, load_rules, read_yaml, validate
from mappings.schema import ScoringRules
from tests.calibration_data import write_history

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
MAPPING = load_mapping("hubspot")


@pytest.fixture(scope="module")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("history") / "history.csv")


@pytest.fixture(scope="module")
def fitted(history_file: Path) -> tuple[Fitted, list[str]]:
    history = read_history(history_file, MAPPING, "converted")
    candidates = candidate_rules(history.leads, load_rules().penalties)
    result = learn(history.leads, history.outcomes, candidates, load_rules(), AS_OF, 0.3, 7)
    return result, warnings(history.leads, history.outcomes, candidates, MAPPING)


def _points(rules: ScoringRules, label_part: str) -> float:
    found = [r.points for r in [*rules.fit, *rules.engagement, *rules.penalties] if label_part in r.label]
    return max(found, key=abs) if found else 0.0


def test_the_learned_points_recover_the_generating_rules_ordering(fitted: tuple[Fitted, list[str]]) -> None:
    rules = fitted[0].rules
    executive, referral = _points(rules, "Seniority: executive"), _points(rules, "Origin: referral")
    free_mail = _points(rules, "Free-mail")
    assert executive > referral > 0 > free_mail


def test_integer_points_rank_within_002_of_the_raw_model_on_the_holdout(fitted: tuple[Fitted, list[str]]) -> None:
    result = fitted[0]
    assert result.points_auc >= result.model_auc - 0.02
    assert result.model_auc > 0.7


def test_a_planted_leaky_column_is_named_in_the_warnings(fitted: tuple[Fitted, list[str]]) -> None:
    assert any("hs_lead_status" in w and "connected" in w for w in fitted[1])


def test_the_calibrated_file_keeps_the_hot_gate_and_passes_check(
    fitted: tuple[Fitted, list[str]], tmp_path: Path
) -> None:
    text = scoring_yaml(fitted[0], "history.csv", 3000, 700, 7)
    rules = validate(ScoringRules, read_yaml(text, "scoring.yaml"), "scoring.yaml")
    assert rules.qualification.required == load_rules().qualification.required
    for name in ("hubspot.yaml", "salesforce.yaml"):
        (tmp_path / name).write_text((PACKAGED / name).read_text())
    (tmp_path / "scoring.yaml").write_text(text)
    assert CliRunner().invoke(app, ["check", "--mappings", str(tmp_path)]).exit_code == 0


def test_the_same_file_and_seed_give_the_same_rules(history_file: Path, tmp_path: Path) -> None:
    outputs = []
    for n in range(2):
        out = tmp_path / f"run{n}.yaml"
        result = CliRunner().invoke(
            app, ["calibrate", str(history_file), "--mapping", str(PACKAGED / "hubspot.yaml"), "--outcome", "converted",
                  "--seed", "3", "--out", str(out), "--as-of", "2026-11-01T00:00:00",
                  "--report", str(tmp_path / "r.html")],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert b"data:image/png;base64," in (tmp_path / "r.html").read_bytes()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("converted", "outcome", 1), "no outcome column 'converted'"),
        (lambda text: text.replace(",1\n", ",0\n"), "column converted: every lead did not convert"),
        (lambda text: text.replace(",25,", ",lots,", 1), "column hs_analytics_num_page_views: expected a number"),
    ],
    ids=["no-outcome-column", "single-class", "not-a-number"],
)
def test_bad_input_gets_a_clear_error_naming_the_column(
    history_file: Path, tmp_path: Path, edit: object, message: str
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(edit(history_file.read_text()))  # type: ignore[operator]
    with pytest.raises(CalibrationError, match=message):
        read_history(broken, MAPPING, "converted")


def test_calibrating_from_hubspot_learns_from_contacts_and_their_won_deals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from adapters.hubspot.sandbox import HubSpotSandbox

    portal = HubSpotSandbox(access_token="calibrate-token", rate_limit=(10_000, 10.0))
    portal.start()
    try:
        rng = random.Random(9)
        for n in range(400):
            chief = n % 3 == 0
            contact = portal.create_contact({"email": f"p{n}@acme.example", "jobtitle": "CEO" if chief else "Analyst"})
            if rng.random() < (0.6 if chief else 0.1):
                deal = portal.create_deal({"dealname": f"Deal {n}", "amount": "9000"}, [contact])
                portal.update_deal(deal, {"dealstage": "closedwon"})
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "calibrate-token")
        monkeypatch.setenv("HUBSPOT_API_BASE", portal.base_url)
        monkeypatch.setenv("LEADTHERM_DB", str(tmp_path / "leadtherm.db"))
        out = tmp_path / "from-hubspot.yaml"
        result = CliRunner().invoke(app, ["calibrate", "hubspot", "--out", str(out), "--as-of", "2026-11-01T00:00:00"])
        assert result.exit_code == 0, result.output
        rules = validate(ScoringRules, read_yaml(out.read_text(), "scoring.yaml"), "scoring.yaml")
        assert _points(rules, "Seniority: executive") > 0
    finally:
        portal.stop()
