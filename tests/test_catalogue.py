"""Every list of attributes and outputs derives from the one catalogue (mappings/catalogue.py)."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.hubspot import field_setup as hubspot_setup
from adapters.salesforce import field_setup as salesforce_setup
from integration.calibration.binning import terms
from integration.domain.model import Lead
from integration.domain.normalize import Normalizer
from integration.domain.outputs import assessment_outputs, changed_outputs, format_datetime
from integration.domain.scoring import assess
from mappings import catalogue
from mappings.catalogue import ATTRIBUTES, EMPTY, OUTPUT_KEYS, OUTPUTS, Attribute
from mappings.loader import load_mapping, load_rules, read_yaml, validate
from mappings.schema import CrmMapping, ScoringRules

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _string_lists(path: Path) -> list[tuple[int, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            found.append((node.lineno, words))
        elif isinstance(node, ast.Dict) and all(isinstance(v, ast.Constant) for v in node.values):
            # A table of plain data keyed by our names is a copy; a dict computing each value is not.
            words = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            found.append((node.lineno, words))
    return found


def test_no_module_keeps_its_own_copy_of_the_attribute_or_output_names() -> None:
    names = set(ATTRIBUTES) | set(OUTPUT_KEYS)
    copies = []
    for folder in ("integration", "mappings", "adapters", "webhooks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "catalogue.py" or "sandbox" in path.name or "_pb2" in path.name:
                continue  # the sandboxes emulate the CRMs' own fields, not ours
            for line, words in _string_lists(path):
                if len(names.intersection(words)) >= 3:
                    copies.append(f"{path.relative_to(ROOT)}:{line}")
    assert copies == []


def test_every_output_has_a_field_type_in_each_crm() -> None:
    value_types = {o.value for o in OUTPUTS}
    assert value_types <= set(hubspot_setup.FIELD_TYPES)
    assert value_types <= set(salesforce_setup.FIELD_TYPES)


def test_every_named_output_becomes_a_setup_field_and_an_unnamed_one_does_not() -> None:
    for crm, specs_of in (("hubspot", hubspot_setup.property_specs), ("salesforce", salesforce_setup.field_specs)):
        mapping = load_mapping(crm)
        named = [key for key in OUTPUT_KEYS if mapping.output_field(key)]
        assert "rating" not in named  # optional: off until the admin names a field
        specs = {s.name for s in specs_of(mapping)}
        assert {mapping.output_field(k) for k in named} <= specs
        rated = mapping.model_copy(update={"outputs": {**mapping.outputs, "rating": "the_rating__c"}})
        assert "the_rating__c" in {s.name for s in specs_of(rated)}


def test_the_rating_is_the_temperatures_rank_when_mapped() -> None:
    mapping = load_mapping("hubspot")
    rated = mapping.model_copy(update={"outputs": {**mapping.outputs, "rating": "leadtherm_rating"}})
    result = assess(Lead.of("hubspot", "1", seniority="executive", origin="referral"), load_rules(), NOW)
    values, _ = changed_outputs(rated, result, {"hs_object_id": "1"}, NOW)
    assert values["leadtherm_rating"] == result.temperature.rank == assessment_outputs(result)["rating"]


def test_two_temperature_changes_within_one_second_write_two_rising_values() -> None:
    mapping = load_mapping("hubspot")
    rules = load_rules()
    cold = assess(Lead.of("hubspot", "1"), rules, NOW)
    first, _ = changed_outputs(mapping, cold, {"hs_object_id": "1", "leadtherm_temperature": "warm"}, NOW)
    held = {"hs_object_id": "1", **first}
    warm = assess(Lead.of("hubspot", "1", seniority="executive", origin="referral", form_submissions=3,
                          last_engagement_at=NOW), rules, NOW)  # fmt: skip
    second, _ = changed_outputs(mapping, warm, held, NOW + timedelta(milliseconds=0))  # the same instant
    stamp = "leadtherm_temperature_changed_at"
    assert first[stamp] == format_datetime(NOW)
    assert second[stamp] > first[stamp]


def test_adding_a_built_in_attribute_is_one_catalogue_entry_plus_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new built-in: a catalogue entry...
    entry = Attribute("trial_days", "integer", "Trial days used", decays=True, calibrate="counter")
    monkeypatch.setitem(catalogue.ATTRIBUTES, entry.name, entry)  # type: ignore[index]
    monkeypatch.setitem(catalogue.EMPTY, entry.name, entry.empty)  # type: ignore[index]
    # ...plus YAML: a mapping line and a rule.
    text = (
        (ROOT / "mappings" / "hubspot.yaml")
        .read_text()
        .replace("attributes:\n", "attributes:\n  trial_days: {field: trial_days_used}\n", 1)
    )
    mapping = validate(CrmMapping, read_yaml(text, "hubspot.yaml"), "hubspot.yaml")
    rules = load_rules().model_copy(deep=True)
    rule = {"label": "Uses the trial", "attribute": "trial_days", "each": 1, "points": 5, "max_points": 15}
    rules = ScoringRules.model_validate({**rules.model_dump(by_alias=True), "engagement": [rule]})
    lead = Normalizer(mapping).lead({"hs_object_id": "9", "trial_days_used": "2"})
    assert lead.get("trial_days") == 2 and Lead.of("hubspot", "1").get("trial_days") == 0 == EMPTY["trial_days"]
    assert "Uses the trial (+5)" in [str(r) for r in assess(lead, rules, NOW).reasons]  # 10 points x 0.5
    assert "trial_days_used" in mapping.read_fields
    leads = [Lead.of("hubspot", str(n), trial_days=n % 7) for n in range(200)]
    cut = terms(leads, [NOW] * len(leads), rules, mapping.attributes_in_use, range(len(leads)))
    assert "trial_days" in {term.name for term in cut}  # calibrate learns it too
