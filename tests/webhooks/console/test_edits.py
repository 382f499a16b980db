"""The forms' edits keep the admin's file as written: comments, order and layout survive."""

from __future__ import annotations

import pytest
import yaml

from integration.service.rules_provider import parse_rules
from mappings.loader import PACKAGED
from webhooks.console.attributes import attributes_in_use
from webhooks.console.edits import (
    EditError,
    add_custom_attribute,
    add_rule,
    parse_condition,
    remove_rule,
    set_value,
)

SCORING = (PACKAGED / "scoring.yaml").read_text(encoding="utf-8")
HUBSPOT = (PACKAGED / "hubspot.yaml").read_text(encoding="utf-8")


def _diff_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]


def test_setting_a_rules_points_changes_that_one_line_only() -> None:
    edited = set_value(SCORING, ("fit", 1, "points"), 40)
    assert _diff_lines(SCORING, edited) == [("    points: 18", "    points: 40")]
    assert parse_rules(edited).fit[1].points == 40


def test_a_value_with_a_comment_keeps_the_comment() -> None:
    edited = set_value(SCORING, ("temperature", "warm"), 55)
    [(before, after)] = _diff_lines(SCORING, edited)
    assert before.startswith("  warm: 40 ") and after == before.replace("warm: 40", "warm: 55")
    assert "# showed interest" in after
    edited = set_value(SCORING, ("decay", "half_life_days"), 21)
    assert "  half_life_days: 21   # engagement halves every 30 days of silence..." in edited


def test_the_qualification_list_is_written_on_its_line() -> None:
    edited = set_value(SCORING, ("qualification", "required"), ["need", "budget"])
    assert "  required: [need, budget]" in edited and "# all must be confirmed" in edited
    assert parse_rules(edited).qualification.required == ["need", "budget"]


def test_a_missing_key_falls_back_to_a_valid_rewrite() -> None:
    text = "version: 1\nnext_actions: {cold: a, cool: b, warm: c, hot: d}\n"
    edited = set_value(text, ("stage", "mql_score"), 40)
    assert parse_rules(edited).stage.mql_score == 40


def test_removing_a_rule_drops_exactly_its_lines() -> None:
    edited = remove_rule(SCORING, "fit", 0)
    rules = parse_rules(edited)
    assert [r.label for r in rules.fit][:1] == ["Director or VP title"]
    assert len(edited.splitlines()) == len(SCORING.splitlines()) - 4


def test_removing_the_last_rule_of_a_list_leaves_an_empty_list() -> None:
    text = SCORING
    for _ in range(len(parse_rules(SCORING).penalties)):
        text = remove_rule(text, "penalties", 0)
    assert parse_rules(text).penalties == []
    assert "penalties: []" in text


def test_an_added_rule_comes_after_the_last_one_of_its_list() -> None:
    rule = {"label": "Bad timing: later", "attribute": "lead_status", "in": ["bad_timing"], "points": -5}
    edited = add_rule(SCORING, "penalties", rule)
    penalties = parse_rules(edited).penalties
    assert penalties[-1].label == "Bad timing: later" and penalties[-1].in_ == ["bad_timing"]
    assert "  - label: 'Bad timing: later'" in edited  # quoted where YAML needs it
    assert edited.index("Bad timing") < edited.index("next_actions:")


def test_condition_values_are_read_by_the_kind_of_condition() -> None:
    assert parse_condition("in", "a, b ,c", "text") == ["a", "b", "c"]
    assert parse_condition("is", "TRUE", "boolean") is True
    assert parse_condition("at_least", "50", "integer") == 50.0
    with pytest.raises(EditError, match="at_least: must be a number"):
        parse_condition("at_least", "many", "integer")
    with pytest.raises(EditError, match="condition: must be one of"):
        parse_condition("between", "1", "integer")


def test_a_custom_attribute_is_declared_in_the_catalogue_syntax_and_offered_to_the_rule_forms() -> None:
    spec = {"field": "product_interest", "kind": "text", "decays": False, "label": "Product interest"}
    edited = add_custom_attribute(HUBSPOT, "product_interest", spec)
    data = yaml.safe_load(edited)
    assert data["custom_attributes"] == {"product_interest": spec}
    assert edited.startswith(HUBSPOT)  # appended: nothing of the admin's file changes
    again = add_custom_attribute(edited, "webinar_minutes", {"field": "wm", "kind": "number", "decays": True})
    again = add_custom_attribute(again, "product_interest", {"field": "pi_v2", "kind": "text"})
    assert list(yaml.safe_load(again)["custom_attributes"]) == ["product_interest", "webinar_minutes"]
    assert yaml.safe_load(again)["custom_attributes"]["product_interest"] == {"field": "pi_v2", "kind": "text"}
    found = {a.name: a for a in attributes_in_use({"scoring.yaml": SCORING, "hubspot.yaml": again})}
    assert found["webinar_minutes"].kind == "number" and found["webinar_minutes"].decays
    assert found["webinar_minutes"].custom and found["webinar_minutes"].crms == ["hubspot"]
    assert found["seniority"].kind == "text" and not found["seniority"].custom


def test_a_custom_attribute_needs_a_name_and_a_known_kind() -> None:
    with pytest.raises(EditError, match="name"):
        add_custom_attribute(HUBSPOT, "Product Interest", {"field": "x", "kind": "text"})
    with pytest.raises(EditError, match="kind"):
        add_custom_attribute(HUBSPOT, "product_interest", {"field": "x", "kind": "colour"})


def test_a_rule_rewritten_in_place_keeps_its_position_and_its_neighbours() -> None:
    from webhooks.console.edits import replace_rule

    rule = {"label": "Founders", "attribute": "title", "matches": "founder", "points": 30}
    edited = replace_rule(SCORING, "fit", 0, rule)
    rules = parse_rules(edited)
    assert rules.fit[0].label == "Founders" and rules.fit[0].matches == "founder"
    assert [r.label for r in rules.fit[1:]] == [r.label for r in parse_rules(SCORING).fit[1:]]


def test_a_compound_rule_written_by_the_console_keeps_a_days_ago_condition_the_form_does_not_offer() -> None:
    rule = {
        "label": "Fresh trial at a big company",
        "all": [
            {"attribute": "company_size", "at_least": 500},
            {"attribute": "last_engagement_at", "days_ago": {"below": 14}},
        ],
        "points": 8,
    }
    edited = add_rule(SCORING, "fit", rule)
    [added] = [r for r in parse_rules(edited).fit if r.label == rule["label"]]
    assert added.all_ is not None and added.all_[1].days_ago is not None and added.all_[1].days_ago.below == 14
