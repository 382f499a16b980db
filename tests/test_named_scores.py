"""Named scores: `scoring.<name>.yaml` beside scoring.yaml, each with a segment, its own rules and its own fields.

The worked example of the README (examples/named_scores): two products, Analytics (software, financial
services and telecoms) and Stores (retail, logistics and construction in Europe).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.packaged_copy import copy_packaged
from integration.domain.decisions import Unchanged, Write, decide
from integration.domain.normalize import Normalizer
from integration.domain.scoring import assess, segment_holds
from integration.errors import ConfigError
from integration.files.rules_folder import FolderRulesStore
from integration.ports import RecordRef
from integration.service.pipeline import CrmBinding
from integration.service.rules_provider import StoreRulesProvider
from mappings.catalogue import named_output_field
from mappings.loader import Config, check_folder_report, load_scoring
from tests.pipeline_world import World, make_world

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "named_scores"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
SOFTWARE_CTO = {
    "hs_object_id": "101",
    "email": "cto@nordlys.example",
    "jobtitle": "Chief Technology Officer",
    "numemployees": "100-500",
    "industry": "Software",
    "country": "Sweden",
    "hs_analytics_source": "REFERRALS",
    "num_conversion_events": "2",
    "leadtherm_need": "true",
}
RETAIL_OPERATIONS = {
    **SOFTWARE_CTO,
    "hs_object_id": "102",
    "jobtitle": "Head of Store Operations",
    "industry": "Retail",
    "numemployees": "1000+",
}


def admin_folder(tmp_path: Path) -> Path:
    """The packaged files and the two example named scores, as an admin's folder holds them."""
    folder = copy_packaged(tmp_path / "mappings")
    for source in EXAMPLE.glob("scoring.*.yaml"):
        shutil.copy(source, folder / source.name)
    return folder


def named_world(base: Path, config: Config, named: bool = True) -> World:
    """The pipeline world (fake CRM, SQLite) writing the named scores of `config` too."""
    base.mkdir(parents=True, exist_ok=True)
    world = make_world(base)
    mapping = config.mappings["hubspot"]
    world.crm.own_fields = mapping.own_fields
    world.pipeline.crms["hubspot"] = CrmBinding(world.crm, Normalizer(mapping))
    world.pipeline.scores = tuple(config.scores) if named else ()
    return world


def _decide(folder: Path, record: dict[str, str]) -> Write | Unchanged:
    config = load_scoring(["hubspot"], folder)
    normalizer = Normalizer(config.mappings["hubspot"])
    ref = RecordRef("hubspot", "contact", record["hs_object_id"])
    decision = decide(ref, record, normalizer, config.rules, None, NOW, config.scores)
    assert isinstance(decision, Write | Unchanged)
    return decision


def test_a_named_scores_fields_are_named_after_it_in_each_crms_style() -> None:
    assert named_output_field("leadtherm_score", "analytics") == "leadtherm_analytics_score"
    assert named_output_field("leadtherm_temperature_changed_at", "product_b") == (
        "leadtherm_product_b_temperature_changed_at"
    )
    assert named_output_field("Lead_Score__c", "analytics") == "Lead_Analytics_Score__c"
    assert named_output_field("Lead_Score_Reasons__c", "product_b") == "Lead_Product_B_Score_Reasons__c"
    assert named_output_field(None, "analytics") is None


def test_the_folder_loads_both_named_scores_and_the_mappings_write_their_fields(tmp_path: Path) -> None:
    config = load_scoring(["hubspot", "salesforce"], admin_folder(tmp_path))
    assert [s.name for s in config.scores] == ["analytics", "stores"]
    hubspot, salesforce = config.mappings["hubspot"], config.mappings["salesforce"]
    assert hubspot.output_field("temperature", "stores") == "leadtherm_stores_temperature"
    assert salesforce.output_field("score", "analytics") == "Lead_Analytics_Score__c"
    # Read with the record (to compare), and our own (an echo of writing them is no change).
    assert "leadtherm_analytics_score" in hubspot.read_fields
    assert "Lead_Stores_Temperature__c" in salesforce.own_fields


def test_an_admin_renames_a_named_scores_field_in_the_mapping(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    mapping = folder / "hubspot.yaml"
    mapping.write_text(
        mapping.read_text() + "\nscores:\n  analytics: {score: analytics_fit_score, next_action: null}\n"
    )
    hubspot = load_scoring(["hubspot"], folder).mappings["hubspot"]
    assert hubspot.output_field("score", "analytics") == "analytics_fit_score"
    assert hubspot.output_field("next_action", "analytics") is None
    assert hubspot.output_field("fit", "analytics") == "leadtherm_analytics_fit"


def test_renaming_the_fields_of_a_score_that_has_no_file_is_refused(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    mapping = folder / "hubspot.yaml"
    mapping.write_text(mapping.read_text() + "\nscores:\n  analytcs: {score: my_score}\n")
    with pytest.raises(ConfigError) as raised:
        load_scoring(["hubspot"], folder)
    assert any("no scoring.analytcs.yaml" in p.message for p in raised.value.problems)


def test_a_segment_on_an_attribute_no_mapping_defines_is_refused_at_its_line(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    named = folder / "scoring.analytics.yaml"
    named.write_text(named.read_text().replace("attribute: industry", "attribute: product_interest", 1))
    report = check_folder_report(folder, ["hubspot"])
    [problem] = [p for p in report.problems if p.file.endswith("scoring.analytics.yaml")]
    assert "product_interest" in problem.message and "segment" in problem.message
    lines = named.read_text().splitlines()
    assert problem.line is not None and "product_interest" in lines[problem.line - 1]


def test_a_named_score_needs_a_segment(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    named = folder / "scoring.analytics.yaml"
    text = named.read_text()
    named.write_text(text.replace("\nsegment:", "\nold_segment:", 1))
    report = check_folder_report(folder, ["hubspot"])
    fields = {p.field for p in report.problems if p.file.endswith("scoring.analytics.yaml")}
    assert {"segment", "old_segment"} <= fields


def test_calibrates_output_file_is_not_a_named_score(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    shutil.copy(folder / "scoring.yaml", folder / "scoring.calibrated.yaml")
    assert [s.name for s in load_scoring(["hubspot"], folder).scores] == ["analytics", "stores"]


def test_a_software_lead_gets_the_analytics_score_and_not_the_stores_one(tmp_path: Path) -> None:
    decision = _decide(admin_folder(tmp_path), SOFTWARE_CTO)
    assert isinstance(decision, Write)
    assert "leadtherm_score" in decision.values  # the default score stays as it was
    assert "leadtherm_analytics_score" in decision.values
    assert "leadtherm_analytics_next_action" in decision.values
    assert not any(field.startswith("leadtherm_stores_") for field in decision.values)
    assert "analytics.temperature" in decision.changes


def test_a_european_retailer_gets_the_stores_score_and_not_the_analytics_one(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    stores = next(s for s in load_scoring(["hubspot"], folder).scores if s.name == "stores")
    decision = _decide(folder, RETAIL_OPERATIONS)
    assert isinstance(decision, Write)
    assert decision.values["leadtherm_stores_next_action"] in stores.rules.next_actions.model_dump().values()
    assert not any(field.startswith("leadtherm_analytics_") for field in decision.values)


def test_a_retailer_outside_europe_is_in_neither_segment(tmp_path: Path) -> None:
    decision = _decide(admin_folder(tmp_path), {**RETAIL_OPERATIONS, "country": "Brazil"})
    assert isinstance(decision, Write)
    assert not any(f.startswith(("leadtherm_analytics_", "leadtherm_stores_")) for f in decision.values)


def test_a_named_score_is_its_own_rules_assessment(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    config = load_scoring(["hubspot"], folder)
    analytics = next(s for s in config.scores if s.name == "analytics")
    lead = Normalizer(config.mappings["hubspot"]).lead(SOFTWARE_CTO)
    expected = assess(lead, analytics.rules, NOW)
    decision = _decide(folder, SOFTWARE_CTO)
    assert decision.values["leadtherm_analytics_score"] == expected.score
    assert decision.values["leadtherm_analytics_temperature"] == expected.temperature.value
    assert expected.score != assess(lead, config.rules, NOW).score  # else this test could not tell them apart


def test_values_already_held_for_a_named_score_are_not_written_again(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    first = _decide(folder, SOFTWARE_CTO)
    assert isinstance(first, Write)
    again = _decide(folder, {**SOFTWARE_CTO, **{k: str(v) for k, v in first.values.items()}})
    assert isinstance(again, Unchanged)


def test_a_record_that_left_a_segment_keeps_what_that_score_last_wrote(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    first = _decide(folder, SOFTWARE_CTO)
    held = {**SOFTWARE_CTO, **{k: str(v) for k, v in first.values.items()}, "industry": "Retail", "country": "Brazil"}
    moved = _decide(folder, held)
    assert not any(f.startswith("leadtherm_analytics_") for f in getattr(moved, "values", {}))


def test_a_segment_of_several_conditions_needs_every_one(tmp_path: Path) -> None:
    config = load_scoring(["hubspot"], admin_folder(tmp_path))
    stores = next(s for s in config.scores if s.name == "stores")
    normalizer = Normalizer(config.mappings["hubspot"])
    assert segment_holds(stores.segment, normalizer.lead(RETAIL_OPERATIONS).values, NOW)
    for other in ({"industry": "Software"}, {"country": "India"}, {"industry": ""}):
        assert not segment_holds(stores.segment, normalizer.lead({**RETAIL_OPERATIONS, **other}).values, NOW)


def test_the_sweep_revisits_a_record_when_its_soonest_score_would_drop(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    named = folder / "scoring.analytics.yaml"
    named.write_text(
        named.read_text().replace("half_life_days: 45, grace_days: 14", "half_life_days: 1, grace_days: 0")
    )
    config = load_scoring(["hubspot"], folder)
    analytics = next(s for s in config.scores if s.name == "analytics")
    recent = {**SOFTWARE_CTO, "hs_analytics_last_visit_timestamp": "2026-10-31T12:00:00Z"}
    lead = Normalizer(config.mappings["hubspot"]).lead(recent)
    default_drop = assess(lead, config.rules, NOW).next_drop_at
    named_drop = assess(lead, analytics.rules, NOW).next_drop_at
    assert named_drop is not None and (default_drop is None or named_drop < default_drop)
    decision = _decide(folder, recent)
    assert decision.state.next_drop_at == named_drop


def test_an_applied_version_of_a_named_score_is_in_force_from_the_next_batch(tmp_path: Path) -> None:
    folder = admin_folder(tmp_path)
    config = load_scoring(["hubspot"], folder)
    store = FolderRulesStore(folder)
    provider = StoreRulesProvider(store, config.rules, scores=config.scores)
    named = folder / "scoring.analytics.yaml"
    edited = named.read_text().replace(
        "label: Decision-maker title\n    attribute: seniority", "label: Leader\n    attribute: seniority"
    )
    assert edited != named.read_text()
    store.apply({"scoring.analytics.yaml": edited}, "Ada", "rename a rule", base=store.head())
    _, scores = provider.snapshot()
    analytics = next(s for s in scores if s.name == "analytics")
    assert analytics.rules.fit[0].label == "Leader"
    # A named score applied after the start is not written before setup and a restart (its fields may not exist).
    shutil.copy(folder / "scoring.stores.yaml", tmp_path / "new.yaml")
    store.apply({"scoring.retail.yaml": (tmp_path / "new.yaml").read_text()}, "Ada", "a third", base=store.head())
    assert [s.name for s in provider.snapshot()[1]] == ["analytics", "stores"]
