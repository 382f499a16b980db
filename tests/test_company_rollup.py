"""The company roll-up, pure: fit from the company's fields, engagement from its people, reasons by role."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integration.domain.company import (
    Member,
    assess_company,
    changed_outputs,
    company_outputs,
    describe_engaged,
    read_company,
)
from integration.domain.model import Stage, Temperature
from mappings.company import CompanyRules, load_company_rules, unknown_attributes
from mappings.errors import ConfigError
from mappings.loader import load_mapping

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RULES = load_company_rules()
MAPPING = load_mapping("hubspot").company
assert MAPPING is not None
TARGET = {"industry": "software", "employees": 400.0, "annual_revenue": 2e7, "country": "sweden"}


def person(n: int, role: str | None, temperature: Temperature, engagement: int, stage: Stage = Stage.LEAD) -> Member:
    return Member(str(n), role, temperature, engagement, stage, NOW + timedelta(days=n + 1))


def test_a_company_without_people_has_fit_but_no_engagement() -> None:
    assessment = assess_company(TARGET, [], RULES)
    assert assessment.engagement == 0
    assert assessment.fit == 100
    assert assessment.engaged_people == 0
    assert assessment.score == round(RULES.weights.fit * 100)


def test_each_further_engaged_person_adds_less_than_the_one_before() -> None:
    scores = []
    for n in range(1, 6):
        people = [person(i, None, Temperature.COOL, 30) for i in range(n)]
        scores.append(assess_company({}, people, RULES).engagement)
    gains = [later - earlier for earlier, later in itertools.pairwise(scores)]
    assert all(gain > 0 for gain in gains)
    assert gains == sorted(gains, reverse=True)


def test_a_buying_group_of_several_roles_outscores_as_many_people_of_one_role() -> None:
    same = [person(i, "manager", Temperature.COOL, 25) for i in range(3)]
    group = [person(0, "executive", Temperature.COOL, 25), person(1, "director", Temperature.COOL, 25)]
    group.append(person(2, "manager", Temperature.COOL, 25))
    one_role, three_roles = assess_company({}, same, RULES), assess_company({}, group, RULES)
    assert three_roles.coverage == 3 and one_role.coverage == 1
    assert three_roles.engagement > one_role.engagement


def test_people_below_the_engaged_threshold_are_not_counted_as_engaged() -> None:
    quiet = [person(i, "manager", Temperature.COLD, RULES.engagement.engaged_at - 1) for i in range(4)]
    assessment = assess_company({}, quiet, RULES)
    assert assessment.engaged_people == 0
    assert assessment.coverage == 0
    assert any("none of 4 people engaged" in r.label for r in assessment.reasons)


def test_reasons_name_people_by_role_and_temperature_never_by_name() -> None:
    people = [
        person(1, "director", Temperature.WARM, 60),
        person(2, "manager", Temperature.COOL, 30),
        person(3, "manager", Temperature.COOL, 28),
    ]
    assert describe_engaged(people) == "3 engaged: a director (warm), two managers (cool)"
    assert describe_engaged([person(1, "executive", Temperature.HOT, 80)]) == "1 engaged: an executive (hot)"
    labels = " ".join(r.label for r in assess_company({}, people, RULES).reasons)
    assert "3 engaged: a director (warm), two managers (cool)" in labels


def test_a_won_deal_makes_the_company_a_customer_whatever_its_score() -> None:
    people = [person(1, "manager", Temperature.COLD, 0, Stage.CUSTOMER), person(2, None, Temperature.COLD, 0)]
    assert assess_company({}, people, RULES).stage is Stage.CUSTOMER
    assert assess_company({}, [], RULES, customer=True).stage is Stage.CUSTOMER
    assert assess_company({}, [person(1, None, Temperature.COOL, 30, Stage.MQL)], RULES).stage is Stage.MQL


def test_a_warming_buying_group_warms_the_account() -> None:
    cold = assess_company(TARGET, [person(1, "manager", Temperature.COOL, 20)], RULES)
    warming = [
        person(1, "executive", Temperature.WARM, 55),
        person(2, "director", Temperature.WARM, 50),
        person(3, "manager", Temperature.COOL, 30),
    ]
    warm = assess_company(TARGET, warming, RULES)
    assert warm.temperature.rank > cold.temperature.rank
    assert warm.score > cold.score


def test_the_company_drops_when_its_first_engaged_person_is_due_to() -> None:
    people = [person(3, "manager", Temperature.COOL, 30), person(1, "director", Temperature.WARM, 60)]
    assert assess_company({}, people, RULES).next_drop_at == NOW + timedelta(days=2)


def test_company_fields_are_read_as_their_kind() -> None:
    raw = {"industry": " Software ", "numberofemployees": "400", "annualrevenue": "not a number", "country": ""}
    values = read_company(raw, MAPPING)
    assert values == {"industry": "software", "employees": 400.0, "annual_revenue": None, "country": None}


def test_only_outputs_whose_crm_value_differs_are_written() -> None:
    wanted = company_outputs(assess_company(TARGET, [], RULES), MAPPING)
    held = {name: str(value) for name, value in wanted.items()}
    assert changed_outputs(wanted, held) == {}
    held[MAPPING.outputs["score"] or ""] = "1"
    assert list(changed_outputs(wanted, held)) == [MAPPING.outputs["score"]]


def test_a_mistake_in_the_company_rules_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "scoring.company.yaml").write_text(
        "fit:\n  - {attribute: industry, equals: software, points: 10, label: Software}\n"
        "  - {attribute: employees, points: 20, label: Big}\n"
        "weights: {fit: 0.5, engagement: 0.6}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_company_rules(tmp_path)
    text = str(caught.value)
    assert "scoring.company.yaml" in text
    assert ":3" in text and "needs a test" in text
    assert ":4" in text and "add up to 1" in text


def test_diminishing_weights_must_not_grow() -> None:
    with pytest.raises(ValueError, match="must not grow"):
        CompanyRules.model_validate({"engagement": {"weights": [0.5, 1.0]}})


def test_the_readme_s_worked_example_is_what_the_default_rules_compute() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Company and account scores")[1].split("\n## ")[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    weeks = [
        [person(1, "manager", Temperature.COOL, 24)],
        [person(1, "manager", Temperature.COOL, 30), person(2, "director", Temperature.WARM, 45)],
        [
            person(1, "manager", Temperature.COOL, 30),
            person(2, "director", Temperature.WARM, 55),
            person(3, "executive", Temperature.WARM, 50),
            person(4, "manager", Temperature.COOL, 22),
        ],
    ]
    nordlys = {"industry": "software", "employees": 400.0, "annual_revenue": None, "country": "sweden"}
    assert len(rows) == len(weeks)
    for row, people in zip(rows, weeks, strict=True):
        assessment = assess_company(nordlys, people, RULES)
        assert (int(row[3]), row[4].strip()) == (assessment.score, assessment.temperature.value)
        assert row[2].strip().endswith(f"= {assessment.engagement}")
        assert row[5].strip().split(" (+")[0] in assessment.summary()


def test_a_company_rule_on_an_attribute_no_crm_maps_is_named() -> None:
    rules = CompanyRules.model_validate(
        {"fit": [{"attribute": "segment", "equals": "smb", "points": 5, "label": "SMB"}]}
    )
    assert unknown_attributes(rules, {"hubspot": MAPPING}) == [
        (0, "'segment' is not among the company attributes of hubspot")
    ]
    assert unknown_attributes(RULES, {"hubspot": MAPPING}) == []


def test_a_person_is_stale_only_when_a_company_field_it_holds_now_reads_otherwise() -> None:
    from integration.ports import RecordRef
    from integration.service.companies import read_before

    account = {"Industry": "Mining", "NumberOfEmployees": 400, "AnnualRevenue": None}
    moved, same, blank, unread = (RecordRef("salesforce", "Contact", f"003{n}") for n in range(4))
    records = {
        moved: {"Account.Industry": "Software", "Account.NumberOfEmployees": 400},
        same: {"Account.Industry": "Mining", "Account.NumberOfEmployees": 400.0},  # the APIs' 400.0 is 400
        blank: {"Account.Industry": "Mining", "Account.AnnualRevenue": ""},  # empty either way
        unread: {"Account.Name": "Nordlys AB", "Industry": "Software"},  # no field of the company's read
    }
    assert read_before("Account", account, [moved, same, blank, unread], records) == [moved]
