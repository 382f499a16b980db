"""Learned shapes: as accurate as gradient boosting, points sized to the evidence, rules a person can read."""

from __future__ import annotations

import re

import pytest

from harness.calibration_data import (
    ORIGINS,
    PAGES,
    SHAPED_AS_OF,
    rare_history,
    reference_aucs,
    shaped_history,
)
from integration.calibration.calibrate import Calibration, calibrate, same_as_the_scorer
from integration.calibration.history import History
from integration.calibration.scale import POINTS_TO_DOUBLE, auc_interval
from integration.calibration.statistics import auc
from integration.calibration.writer import scoring_yaml
from integration.domain.model import Lead
from integration.domain.scoring import assess
from mappings.catalogue import ATTRIBUTES
from mappings.loader import load_rules
from mappings.schema import Rule, ScoringRules

CURRENT = load_rules()


def _all(rules: ScoringRules) -> list[Rule]:
    return [*rules.fit, *rules.engagement, *rules.penalties]


@pytest.fixture(scope="module")
def shaped() -> Calibration:
    return calibrate(shaped_history(12_000, seed=3), CURRENT)


@pytest.fixture(scope="module")
def rare() -> Calibration:
    return calibrate(rare_history(10_000, seed=8), CURRENT)


def test_a_hump_shaped_number_and_an_interaction_are_learned_as_well_as_gradient_boosting(shaped: Calibration) -> None:
    boosted, linear = reference_aucs(shaped.history, shaped.train, shaped.test)
    assert shaped.model_auc >= boosted - 0.005, (shaped.model_auc, boosted)
    assert shaped.points_auc >= boosted - 0.005, (shaped.points_auc, boosted)
    assert shaped.points_auc > linear + 0.02, (shaped.points_auc, linear)


def test_the_interaction_is_found_as_one_compound_rule_on_both_attributes(shaped: Calibration) -> None:
    [first, *_] = shaped.compound
    conditions = {c["attribute"]: c for c in first["all"]}
    assert conditions["region"] == {"attribute": "region", "is": "emea"}
    assert 100 <= conditions["employees"]["at_least"] <= 300  # the generating rule's edge is 200
    assert first["points"] >= POINTS_TO_DOUBLE  # the interaction more than doubles the odds
    assert first["label"].startswith("Region: emea and Employees: ")
    [written] = [r for r in shaped.rules.fit if r.label == first["label"]]  # a compound rule of scoring.yaml
    assert [c.attribute for c in written.all_ or []] == ["region", "employees"]
    big_in_emea = Lead.of("sheet", "e", "lead", region="EMEA", employees=900)
    assert first["label"] in {r.label for r in assess(big_in_emea, shaped.rules, SHAPED_AS_OF).reasons}


def test_the_hump_keeps_fine_ranges_and_its_points_rise_then_fall(shaped: Calibration) -> None:
    ranges = sorted(
        (r for r in _all(shaped.rules) if r.attribute == "time_on_site" and r.present is None),
        key=lambda r: r.at_least if r.at_least is not None else -1.0,
    )
    assert len(ranges) >= 6  # finer cuts pay on held-out data here
    peak = max(range(len(ranges)), key=lambda i: ranges[i].points)
    assert 0 < peak < len(ranges) - 1
    assert ranges[peak].points - ranges[0].points >= POINTS_TO_DOUBLE
    assert ranges[peak].points - ranges[-1].points >= POINTS_TO_DOUBLE


def test_a_noise_number_keeps_few_cuts_where_finer_ones_do_not_pay() -> None:
    result = calibrate(shaped_history(8_000, seed=5, extra=2), CURRENT)
    noise = [r for r in _all(result.rules) if r.attribute == "noise_1"]
    assert len(noise) <= 2, [(r.label, r.points) for r in noise]


def test_missing_is_a_value_of_its_own_with_its_own_points(shaped: Calibration) -> None:
    [missing] = [r for r in _all(shaped.rules) if r.attribute == "time_on_site" and r.present is False]
    assert missing.label == "Time on the website (minutes): not recorded"
    assert missing.points < 0  # the generating rule: no time recorded converts less than the typical lead
    nobody = Lead.of("sheet", "x", "lead", time_on_site=None)
    assert missing.label in {r.label for r in assess(nobody, shaped.rules, SHAPED_AS_OF).reasons}


def test_ranges_state_their_edges_as_the_scorer_reads_them(shaped: Calibration) -> None:
    for rule in _all(shaped.rules):
        if rule.attribute == "time_on_site" and rule.at_least is not None and rule.below is not None:
            assert rule.label.endswith(f"{_num(rule.at_least)} to under {_num(rule.below)}"), rule.label
        elif rule.attribute == "time_on_site" and rule.below is not None:
            assert rule.label.endswith(f"under {_num(rule.below)}"), rule.label
        elif rule.attribute == "time_on_site" and rule.at_least is not None:
            assert rule.label.endswith(f"{_num(rule.at_least)} or more"), rule.label
        if rule.attribute == "employees" and rule.below is not None and rule.at_least is not None:
            # Whole numbers: "200 to 399" says both ends are included.
            assert rule.label.endswith(f"{_num(rule.at_least)} to {_num(rule.below - 1)}"), rule.label


def _num(value: float) -> str:
    from integration.calibration.features import number_label

    return number_label(value)


def test_each_attribute_gives_one_reason_and_stays_in_one_section(shaped: Calibration) -> None:
    sections: dict[str, set[str]] = {}
    for axis, group in (("fit", shaped.rules.fit), ("eng", shaped.rules.engagement), ("pen", shaped.rules.penalties)):
        for rule in group:
            sections.setdefault(rule.attribute, set()).add(axis)
    assert all(len(axes) == 1 for axes in sections.values()), sections
    history = shaped.history
    for i in shaped.test[:500]:
        reasons = assess(history.leads[i], shaped.rules, history.as_of[i]).reasons
        attributes = [next(r.attribute for r in _all(shaped.rules) if r.label == x.label) for x in reasons
                      if not x.label.startswith("No activity")]  # fmt: skip
        assert len(attributes) == len(set(attributes))


def test_decaying_visits_only_add_in_engagement_without_below(shaped: Calibration) -> None:
    visits = [r for r in _all(shaped.rules) if r.attribute == "site_visits"]
    assert visits and all(r in shaped.rules.engagement for r in visits)
    assert all(r.points > 0 and r.below is None for r in visits)
    assert [r.points for r in visits] == sorted(r.points for r in visits)  # more visits, more points


def test_no_rule_fires_for_fewer_than_one_percent_of_training_leads(rare: Calibration, shaped: Calibration) -> None:
    for result in (rare, shaped):
        assert min(seen.share for seen in result.support.values()) >= 0.01


def test_a_10_percent_history_keeps_its_rare_low_converting_values_and_every_informative_column(
    rare: Calibration,
) -> None:
    history = rare.history
    assert 0.08 < sum(history.outcomes) / len(history.outcomes) < 0.14
    learned = {r.attribute for r in _all(rare.rules)}
    assert {"origin_channel", "landing_page"} <= learned
    points = {r.label: r.points for r in _all(rare.rules)}
    for value in ("fax", "print"):  # 3% of leads each, converting at about 1%
        assert points[f"Origin: {value}"] <= -2 * POINTS_TO_DOUBLE
    for page in ("/jobs", "/press"):
        assert points[f"Landing page: {page}"] <= -2 * POINTS_TO_DOUBLE
    assert points["Landing page: /pricing"] > 0
    assert len(ORIGINS) + len(PAGES) > 10
    assert rare.separates and rare.auc_interval[0] > 0.65


def test_a_pure_noise_history_does_not_separate_and_says_so() -> None:
    result = calibrate(shaped_history(4_000, seed=9, signal=0.0), CURRENT)
    low, high = result.auc_interval
    assert low <= 0.5 <= high
    assert not result.separates
    assert any("does not separate converters" in note for note in result.notes)


def test_points_are_sized_to_the_evidence_narrow_when_weak_wide_when_strong() -> None:
    def spread(signal: float) -> float:
        result = calibrate(shaped_history(6_000, seed=4, signal=signal), CURRENT)
        scores = sorted(result.holdout_points)
        return scores[int(0.95 * len(scores))] - scores[int(0.05 * len(scores))]

    weak, strong = spread(0.25), spread(1.2)
    assert weak < 15 and strong > 3 * weak, (weak, strong)


def test_starting_points_come_from_the_base_rate_on_the_same_scale() -> None:
    high = calibrate(shaped_history(10_000, seed=4, signal=0.0), CURRENT)
    rate = sum(high.history.outcomes) / len(high.history.outcomes)
    # A history that says nothing: every lead starts at the base rate's place on the scale (odds 1:4 is 50).
    odds = rate / (1 - rate)
    expected = 50 + POINTS_TO_DOUBLE * __import__("math").log2(odds * 4)
    assert abs(high.baseline - expected) <= 5, (high.baseline, expected)


def test_the_same_fact_from_two_columns_is_named(rare: Calibration) -> None:
    [note] = [n for n in rare.notes if "Last activity: Email Bounced" in n and "E-mail bounced" in n]
    assert "nearly the same leads" in note


def test_a_date_is_learned_as_age_ranges_in_days_and_written_as_days_ago_rules(rare: Calibration) -> None:
    ages = [r for r in _all(rare.rules) if r.attribute == "signed_up" and r.days_ago is not None]
    shape = r"Signed up: (under \d+|\d+ to \d+|\d+) days ago( or more)?"
    assert ages and all(re.fullmatch(shape, r.label) for r in ages)
    ages.sort(key=lambda r: -1.0 if r.days_ago is None or r.days_ago.at_least is None else r.days_ago.at_least)
    assert ages[0].label.startswith("Signed up: under")
    # Recent sign-ups convert more than year-old ones: the youngest range earns the most points of the date's rules.
    assert ages[0].points == max(r.points for r in ages) and ages[0].points > 0
    assert not any("cannot test a date's age" in n for n in rare.notes)
    text = scoring_yaml(rare, 8, 0.3)  # reads back as the learned rules, or it raises
    youngest = ages[0].days_ago
    assert youngest is not None and youngest.below is not None
    assert f"    days_ago: {{below: {int(youngest.below)}}}\n" in text


def test_a_pair_on_a_dates_age_is_a_days_ago_condition_of_a_compound_rule() -> None:
    import numpy as np

    from integration.calibration.binning import Bin, Term
    from integration.calibration.pairs import condition, side_text

    bins = [
        Bin("under 30 days ago", {"days_ago": {"below": 30.0}}, "range", None, 30.0),
        Bin("30 days ago or more", {"days_ago": {"at_least": 30.0}}, "range", 30.0, None),
    ]
    term = Term("signed_up", "Signed up", "age", bins, np.zeros(4, dtype=np.int64), 0)
    found = condition(term, frozenset({1}))
    assert found == {"attribute": "signed_up", "days_ago": {"at_least": 30.0}}
    assert side_text(term, frozenset({1})) == "Signed up: 30 days ago or more"
    rule = Rule.model_validate(
        {"label": "x", "all": [found, {"attribute": "company_size", "at_least": 10}], "points": 3}
    )
    assert rule.all_ is not None and rule.all_[0].days_ago is not None


def test_written_age_rules_fire_as_the_learned_bins_do_at_each_leads_moment(rare: Calibration) -> None:
    history = rare.history
    rows = rare.test[:1500]
    ages = [p for p in rare.placed if p.term >= 0 and p.feature.rule.attribute == "signed_up"]
    assert ages
    for placed in ages:
        [written] = [r for r in _all(rare.rules) if r.label == placed.feature.rule.label]
        members = {i for i in rows if placed.feature.rule.label in
                   {x.label for x in assess(history.leads[i], rare.rules, history.as_of[i]).reasons}}  # fmt: skip
        expected = {i for i in rows if _age_days(history, i, written)}
        assert members == expected, written.label
    scores = [assess(history.leads[i], rare.rules, history.as_of[i]).score for i in rare.test]
    assert scores == rare.holdout_points  # the points table is what the scorer gives, the dates' rules included
    assert same_as_the_scorer(history, rare.rules, rare.test, rare.holdout_points)
    assert rare.points_auc >= rare.model_auc - 0.01, (rare.points_auc, rare.model_auc)


def _age_days(history: History, i: int, rule: Rule) -> bool:
    """Whether lead i's sign-up is within the rule's days_ago range at its as-of moment, decided here."""
    date = history.leads[i].get("signed_up")
    if date is None or rule.days_ago is None:
        return False
    age = (history.as_of[i] - date).total_seconds() / 86400
    low = rule.days_ago.at_least if rule.days_ago.at_least is not None else float("-inf")
    high = rule.days_ago.below if rule.days_ago.below is not None else float("inf")
    return low <= age < high


def test_the_hot_gate_keeps_only_criteria_the_mapping_fills() -> None:
    history = shaped_history(3_000, seed=6)
    with_need = type(history)(
        history.source, history.leads, history.outcomes, history.as_of, (*history.attributes, ATTRIBUTES["need"])
    )
    result = calibrate(with_need, CURRENT)
    assert result.rules.qualification.required == ["need"]
    assert any("drops budget, authority, timeline" in n for n in result.notes)
    assert any("no training lead has need all confirmed" in n for n in result.notes)
    without = calibrate(history, CURRENT)
    assert any(n.startswith("Hot is unreachable") for n in without.notes)


def test_a_caller_given_split_is_used_as_given() -> None:
    history = shaped_history(3_000, seed=6)
    train, test = list(range(2_000)), list(range(2_000, 3_000))
    result = calibrate(history, CURRENT, split=(train, test))
    assert (result.train, result.test) == (train, test)
    assert len(result.holdout_points) == 1_000


def test_the_delong_interval_is_centred_on_the_auc_and_narrows_with_more_leads() -> None:
    import random

    rng = random.Random(1)
    outcomes = [int(rng.random() < 0.3) for _ in range(4_000)]
    scores = [rng.gauss(0.8 * o, 1) for o in outcomes]
    area, low, high = auc_interval(outcomes, scores)
    assert area == pytest.approx(auc(outcomes, scores))
    assert low < area < high and high - low < 0.06
    _, low_small, high_small = auc_interval(outcomes[:400], scores[:400])
    assert high_small - low_small > 2 * (high - low)


def test_the_points_table_scores_every_holdout_lead_as_the_scorer_does(shaped: Calibration, rare: Calibration) -> None:
    for result in (shaped, rare):
        assert same_as_the_scorer(result.history, result.rules, result.test, result.holdout_points)


def test_a_long_picklist_value_is_cut_to_a_valid_label_that_still_names_one_rule() -> None:
    import random

    from integration.calibration.history import History
    from mappings.catalogue import custom_attribute

    rng = random.Random(2)
    pages = ["https://example.com/" + "long-campaign-path/" * 12 + suffix for suffix in ("a", "b")] + ["/home"]
    leads, outcomes = [], []
    for n in range(3_000):
        page = rng.choice(pages)
        leads.append(Lead.of("sheet", str(n), "lead", landing_page=page))
        outcomes.append(int(rng.random() < (0.4 if page.endswith("a") else 0.05 if page.endswith("b") else 0.15)))
    attributes = (custom_attribute("landing_page", "text", "Landing page"),)
    result = calibrate(History("long.csv", leads, outcomes, [SHAPED_AS_OF] * len(leads), attributes), CURRENT)
    labels = [r.label for r in _all(result.rules)]
    assert labels and all(len(label) <= 120 for label in labels)
    assert len(labels) == len({label.casefold() for label in labels})


def test_columns_that_earn_no_points_are_named() -> None:
    result = calibrate(shaped_history(6_000, seed=5, extra=4), CURRENT)
    [note] = [n for n in result.notes if n.startswith("No points for")]
    quiet = {a.label for a in result.history.attributes} - {
        a.label for a in result.history.attributes if any(r.attribute == a.name for r in _all(result.rules))
    }
    assert quiet and all(label in note for label in quiet)
    assert "Plan" not in note


def test_behaviour_that_goes_with_converting_less_is_a_penalty_that_does_not_decay() -> None:
    import random

    from integration.calibration.history import History
    from mappings.catalogue import custom_attribute

    rng = random.Random(4)
    leads, outcomes = [], []
    for n in range(4_000):
        mails = rng.choice([0, 0, 1, 2, 5, 9])  # more newsletters read, fewer purchases in this history
        leads.append(Lead.of("sheet", str(n), "lead", newsletters_read=mails, last_engagement_at=SHAPED_AS_OF))
        outcomes.append(int(rng.random() < (0.3 if mails == 0 else 0.1)))
    attributes = (custom_attribute("newsletters_read", "integer", "Newsletters read", decays=True),)
    result = calibrate(History("mail.csv", leads, outcomes, [SHAPED_AS_OF] * len(leads), attributes), CURRENT)
    learned = [r for r in _all(result.rules) if r.attribute == "newsletters_read"]
    assert learned and all(r in result.rules.penalties and r.points < 0 for r in learned)
