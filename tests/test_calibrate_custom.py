"""Calibration learns from the admin's own fields as it does from the built-ins, from a file or a CRM."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.calibration_data import custom_rows, raw_columns_auc, write_custom_history, write_custom_mapping
from integration.calibration.calibrate import Calibration, calibrate
from integration.calibration.history import History, read_history
from integration.cli import app
from integration.domain.scoring import assess
from mappings.loader import PACKAGED, load_file, load_rules, read_yaml, validate
from mappings.schema import CrmMapping, Rule, ScoringRules
from tests.adapters.salesforce.conftest import password_env

CUSTOM = {"trial_logins", "product_interest"}


def _all(rules: ScoringRules) -> list[Rule]:
    return [*rules.fit, *rules.engagement, *rules.penalties]


def _assert_analytics_suite_learned_highest(crm: str, mapping: Path, tmp_path: Path) -> None:
    """`calibrate CRM` on the sandbox: the product that converts most earns the most points."""
    out = tmp_path / f"from-{crm}.yaml"
    result = CliRunner().invoke(
        app, ["calibrate", crm, "--mapping", str(mapping), "--out", str(out), "--as-of", "2026-11-01T00:00:00"]
    )
    assert result.exit_code == 0, result.output
    rules = validate(ScoringRules, read_yaml(out.read_text(), "scoring.yaml"), "scoring.yaml")
    learned = {r.label: r.points for r in _all(rules) if r.attribute == "product_interest"}
    # Every record has a value, so the most common one is the reference the others are measured against.
    analytics = learned.get("Product interest: Analytics Suite", 0.0)
    others = [learned.get(f"Product interest: {v}", 0.0) for v in ("Training", "Integrations")]
    assert learned and all(analytics > other for other in others), learned


@pytest.fixture(scope="module", params=[False, True], ids=["range", "decaying-counter"])
def learned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[History, Calibration]:
    folder = tmp_path_factory.mktemp("custom")
    path = write_custom_history(folder / "history.csv", rows=3000, seed=11)
    mapping = load_file(CrmMapping, write_custom_mapping(folder / "sheet.yaml", decays=request.param))
    history = read_history(path, mapping, "won")
    return history, calibrate(history, load_rules(), holdout=0.3, seed=7)


def test_the_custom_number_and_picklist_get_the_largest_points(learned: tuple[History, Calibration]) -> None:
    _, result = learned
    ranked = sorted(_all(result.rules), key=lambda r: -abs(r.points))
    assert {r.attribute for r in ranked[:4]} == CUSTOM, [(r.label, r.points) for r in ranked]
    strongest_builtin = max(abs(r.points) for r in ranked if r.attribute not in CUSTOM)
    for name in CUSTOM:
        assert max(abs(r.points) for r in ranked if r.attribute == name) > strongest_builtin


def test_integer_points_on_custom_fields_reach_within_002_of_a_raw_logistic_regression(
    learned: tuple[History, Calibration],
) -> None:
    _, result = learned
    reference = raw_columns_auc(custom_rows(3000, seed=11), result.train, result.test)
    assert reference > 0.75
    assert result.points_auc >= reference - 0.02, (result.points_auc, reference)


def test_a_strong_custom_number_gets_points_rising_range_by_range(learned: tuple[History, Calibration]) -> None:
    history, result = learned
    steps = [r for r in _all(result.rules) if r.attribute == "trial_logins"]
    assert len(steps) >= 3
    # Ranges are exclusive, so each lead earns one of them: their points follow the generating rule's slope.
    ordered = sorted(steps, key=lambda r: r.at_least if r.at_least is not None else min(r.in_ or [0]))  # type: ignore[type-var]
    assert [r.points for r in ordered] == sorted(r.points for r in ordered)
    for lead in history.leads[:200]:
        fired = [
            r for r in steps if any(x.label == r.label for x in assess(lead, result.rules, history.as_of[0]).reasons)
        ]
        assert len(fired) <= 1


def test_picklist_rules_read_as_the_crm_spells_the_value_and_match_it(learned: tuple[History, Calibration]) -> None:
    _, result = learned
    [analytics] = [r for r in _all(result.rules) if r.label == "Product interest: Analytics Suite"]
    assert analytics.points > 0
    assert analytics.is_ == "analytics suite"  # the scorer compares text without case


def test_decaying_custom_counters_go_to_engagement_and_the_others_to_fit(learned: tuple[History, Calibration]) -> None:
    history, result = learned
    decays = next(a for a in history.attributes if a.name == "trial_logins").decays
    axis = {r.label: "engagement" for r in result.rules.engagement} | {r.label: "fit" for r in result.rules.fit}
    positive = [r for r in _all(result.rules) if r.attribute == "trial_logins" and r.points > 0]
    assert {axis[r.label] for r in positive} == {"engagement" if decays else "fit"}


def test_calibrate_file_with_a_mapping_learns_its_custom_attributes_and_the_file_passes_check(
    tmp_path: Path,
) -> None:
    history = write_custom_history(tmp_path / "history.csv", rows=1500, seed=4)
    mapping = write_custom_mapping(tmp_path / "sheet.yaml")
    out = tmp_path / "rules.yaml"
    result = CliRunner().invoke(
        app, ["calibrate", str(history), "--mapping", str(mapping), "--outcome", "won", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    rules = validate(ScoringRules, read_yaml(text, "scoring.yaml"), "scoring.yaml")
    assert {r.attribute for r in _all(rules)} >= CUSTOM
    assert "Product interest" in result.stdout and "Trial logins" in result.stdout


def test_calibrate_hubspot_learns_a_custom_contact_property_its_mapping_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox

    mapping = tmp_path / "hubspot.yaml"
    mapping.write_text(
        (PACKAGED / "hubspot.yaml").read_text()
        + "\ncustom_attributes:\n  product_interest: {field: product_interest, kind: text, label: Product interest}\n"
    )
    portal = HubSpotSandbox(access_token="calibrate-token", rate_limit=(10_000, 10.0))
    portal.start()
    try:
        rng = random.Random(9)
        for n in range(400):
            product = rng.choice(["Analytics Suite", "Training", "Integrations"])
            contact = portal.create_contact(
                {"email": f"p{n}@acme.example", "jobtitle": "Analyst", "product_interest": product}
            )
            if rng.random() < (0.6 if product == "Analytics Suite" else 0.08):
                deal = portal.create_deal({"dealname": f"Deal {n}", "amount": "9000"}, [contact])
                portal.update_deal(deal, {"dealstage": "closedwon"})
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "calibrate-token")
        monkeypatch.setenv("HUBSPOT_API_BASE", portal.base_url)
        _assert_analytics_suite_learned_highest("hubspot", mapping, tmp_path)
    finally:
        portal.stop()


def test_calibrate_salesforce_learns_a_custom_picklist_its_mapping_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadtherm_sandboxes.salesforce.sandbox import SalesforceSandbox

    mapping = tmp_path / "salesforce.yaml"
    mapping.write_text(
        (PACKAGED / "salesforce.yaml").read_text()
        + "\ncustom_attributes:\n"
        + "  product_interest: {field: Product_Interest__c, kind: text, label: Product interest}\n"
    )
    org = SalesforceSandbox()
    org.start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", org.ca_bundle_path)
    try:
        # What the admin does in Setup: the custom picklist, readable by the integration user.
        field = "Lead.Product_Interest__c"
        org.custom_fields[field] = {"type": "Picklist", "label": "Product interest"}
        grants = org.create_record("PermissionSet", {"Name": "Lead_Interest", "Label": "Lead interest"})
        readable = {"ParentId": grants, "SobjectType": "Lead", "Field": field, "PermissionsRead": True}
        org.create_record("FieldPermissions", readable)
        org.create_record("PermissionSetAssignment", {"AssigneeId": org.integration_user_id, "PermissionSetId": grants})
        rng = random.Random(5)
        for n in range(400):
            product = rng.choice(["Analytics Suite", "Training", "Integrations"])
            lead = org.create_lead({"Email": f"p{n}@acme.example", "Title": "Analyst", "Product_Interest__c": product})
            if rng.random() < (0.6 if product == "Analytics Suite" else 0.08):
                org.convert_lead(lead)
        for name, value in password_env(org).items():
            monkeypatch.setenv(name, value)
        _assert_analytics_suite_learned_highest("salesforce", mapping, tmp_path)
    finally:
        org.stop()
