"""The admin's own attributes: declared in a mapping, tested by rules like built-ins, checked across files."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from integration.domain.normalize import Normalizer
from integration.domain.outputs import changed_outputs
from integration.domain.scoring import assess
from integration.errors import ConfigError
from mappings.loader import PACKAGED, check_folder_report, load_config, load_mapping

NOW = datetime(2026, 11, 1, tzinfo=UTC)
HUBSPOT_OWN = """
custom_attributes:      # the admin's own properties
  product_interest: {field: product_interest, kind: text, transform: lower, label: Product interest}
  trial_logins: {field: trial_logins, kind: integer, decays: true}
"""
SALESFORCE_OWN = """
custom_attributes:
  product_interest:
    field: Product_Interest__c
    kind: text
    map: {Analytics Suite: analytics, Connectors: connectors}
  trial_logins: {field: Trial_Logins__c, kind: integer, decays: true}
"""
RULES = """
  - label: Interested in the analytics suite
    attribute: product_interest
    is: analytics
    points: 20
"""
TRIAL_RULE = """
  - label: Logs in to the trial
    attribute: trial_logins
    each: 5
    points: 4
    max_points: 16
"""


def _folder(tmp_path: Path, hubspot: str = HUBSPOT_OWN, salesforce: str = SALESFORCE_OWN) -> Path:
    folder = copy_packaged(tmp_path / "mappings")
    (folder / "hubspot.yaml").write_text((PACKAGED / "hubspot.yaml").read_text() + hubspot)
    (folder / "salesforce.yaml").write_text((PACKAGED / "salesforce.yaml").read_text() + salesforce)
    scoring = (PACKAGED / "scoring.yaml").read_text()
    scoring = scoring.replace("\nengagement:\n", RULES + "\nengagement:\n" + TRIAL_RULE.lstrip("\n"), 1)
    (folder / "scoring.yaml").write_text(scoring)
    return folder


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_a_rule_on_a_custom_hubspot_property_earns_points_and_says_why(tmp_path: Path) -> None:
    rules, mappings = load_config(["hubspot"], _folder(tmp_path))
    normalizer = Normalizer(mappings["hubspot"])
    record = {"hs_object_id": "7", "email": "a@acme.example", "product_interest": "Analytics", "trial_logins": "12"}
    lead = normalizer.lead(record)
    assert lead.get("product_interest") == "analytics" and lead.get("trial_logins") == 12
    result = assess(lead, rules, NOW)
    # 20 fit points at the fit weight of 0.5: 10 points of the score.
    assert "Interested in the analytics suite (+10)" in [str(r) for r in result.reasons]
    assert "Logs in to the trial (+4)" in [str(r) for r in result.reasons]  # 8 engagement points x 0.5
    plain = assess(normalizer.lead({**record, "product_interest": "", "trial_logins": ""}), rules, NOW)
    assert result.score > plain.score


def test_a_custom_salesforce_picklist_is_mapped_onto_the_rules_values(tmp_path: Path) -> None:
    rules, mappings = load_config(["salesforce"], _folder(tmp_path))
    lead = Normalizer(mappings["salesforce"]).lead({"Id": "00Q1", "Product_Interest__c": "Analytics Suite"}, "Lead")
    assert "Interested in the analytics suite" in {r.label for r in assess(lead, rules, NOW).reasons}


def test_the_fields_of_custom_attributes_are_fetched_and_their_changes_are_not_dropped(tmp_path: Path) -> None:
    _, mappings = load_config(["hubspot", "salesforce"], _folder(tmp_path))
    assert {"product_interest", "trial_logins"} <= set(mappings["hubspot"].read_fields)
    assert {"Product_Interest__c", "Trial_Logins__c"} <= set(mappings["salesforce"].read_fields)


def test_custom_values_count_as_read_so_an_unchanged_result_writes_nothing(tmp_path: Path) -> None:
    rules, mappings = load_config(["hubspot"], _folder(tmp_path))
    mapping = mappings["hubspot"]
    record = {"hs_object_id": "7", "email": "a@acme.example", "product_interest": "analytics"}
    values, _ = changed_outputs(mapping, assess(Normalizer(mapping).lead(record), rules, NOW), record, NOW)
    again = {**record, **values}
    assert changed_outputs(mapping, assess(Normalizer(mapping).lead(again), rules, NOW), again, NOW)[0] == {}


def test_check_names_the_crm_whose_mapping_lacks_an_attribute_a_rule_tests(tmp_path: Path) -> None:
    folder = _folder(tmp_path, salesforce="")
    report = check_folder_report(folder)
    [missing, missing_trial] = sorted(report.problems, key=lambda p: p.line or 0)
    assert missing.file.endswith("scoring.yaml")
    assert missing.line == _line_of(folder / "scoring.yaml", "attribute: product_interest")
    assert "'product_interest', which the salesforce mapping does not define" in missing.message
    assert "salesforce" in missing_trial.message and "trial_logins" in missing_trial.message
    # Only the CRMs in use count: a HubSpot-only admin is not asked to fill salesforce.yaml.
    assert check_folder_report(folder, in_use=["hubspot"]).problems == []
    with pytest.raises(ConfigError, match="salesforce mapping does not define"):
        load_config(["hubspot", "salesforce"], folder)


def test_a_numeric_condition_on_a_text_attribute_is_a_kind_mismatch_on_its_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    scoring = folder / "scoring.yaml"
    scoring.write_text(scoring.read_text().replace("    is: analytics\n", "    at_least: 3\n", 1))
    problems = check_folder_report(folder).problems
    assert problems and all("at_least, below and each need a numeric attribute" in p.message for p in problems)
    assert {p.line for p in problems} == {_line_of(scoring, "attribute: product_interest")}


def test_a_custom_attribute_may_not_shadow_a_built_in(tmp_path: Path) -> None:
    folder = _folder(tmp_path, hubspot="\ncustom_attributes:\n  industry: {field: industry, kind: text}\n")
    [problem] = [p for p in check_folder_report(folder).problems if p.file.endswith("hubspot.yaml")]
    assert "'industry' is a built-in attribute" in problem.message
    assert problem.line == _line_of(folder / "hubspot.yaml", "  industry: {field: industry, kind: text}")


def test_a_copied_mapping_without_a_new_output_falls_back_to_its_default_field_with_a_notice(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    for name in ("scoring.yaml", "salesforce.yaml"):
        shutil.copy(PACKAGED / name, folder / name)
    text = (PACKAGED / "hubspot.yaml").read_text()
    (folder / "hubspot.yaml").write_text(text.replace("  next_action: leadtherm_next_action\n", ""))
    mapping = load_mapping("hubspot", folder)
    assert mapping.output_field("next_action") == "leadtherm_next_action"
    report = check_folder_report(folder)
    assert report.problems == []
    assert any("'next_action' is not in this file" in w.message for w in report.warnings)
