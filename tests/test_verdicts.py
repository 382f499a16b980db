"""Verdicts remembered per projection (what `score` writes) equal the plain assessment's, for any leads and rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.domain.model import Lead
from integration.domain.scoring import assess
from integration.domain.verdicts import Verdict, Verdicts
from mappings.loader import load_rules
from mappings.schema import ScoringRules
from tests.strategies import NOW
from tests.strategies import leads as lead_strategy

RULES = load_rules()
DEFAULTS = RULES.model_dump(by_alias=True, exclude_none=True)
SECTIONS = ("fit", "engagement", "penalties")


@st.composite
def rule_sets(draw: st.DrawFn) -> ScoringRules:
    """The default rules with other weights, decay, bands, starting points and points per rule."""
    data: dict[str, Any] = {**DEFAULTS}
    fit = draw(st.sampled_from([0.3, 0.5, 0.6, 0.7, 1.0]))
    data["weights"] = {"fit": fit, "engagement": draw(st.sampled_from([0.3, 0.4, 0.5, 1.0]))}
    data["decay"] = {"half_life_days": draw(st.sampled_from([1, 7, 30, 45.5])), "grace_days": draw(st.integers(0, 14))}
    cool = draw(st.integers(5, 30))
    warm = cool + draw(st.integers(1, 30))
    data["temperature"] = {"cool": cool, "warm": warm, "hot": warm + draw(st.integers(1, 40))}
    data["stage"] = {"mql_score": draw(st.integers(1, 90))}
    data["starting_points"] = draw(st.sampled_from([0, 0, 5, 12, 33]))
    for section in SECTIONS:
        rules = [dict(rule) for rule in DEFAULTS[section]]
        for rule in rules:
            if draw(st.booleans()):
                points = draw(st.integers(1, 60))
                signs = {"penalties": [-1], "engagement": [1]}.get(section, [1, 1, -1])  # fit may subtract
                rule["points"] = points * draw(st.sampled_from(signs))
                if "max_points" in rule:
                    rule["max_points"] = min(100, abs(rule["points"]) * draw(st.integers(1, 5)))
                    rule["points"] = abs(rule["points"])
        data[section] = rules
    return ScoringRules.model_validate(data)


def _dated(lead: Lead, seconds: int | None) -> Lead:
    """The lead last engaged `seconds` before NOW (to the second: decay is not whole days), or never."""
    return lead.replace(last_engagement_at=None if seconds is None else NOW - timedelta(seconds=seconds))


def _plain(lead: Lead, rules: ScoringRules) -> Verdict:
    return Verdict.of(assess(lead, rules, NOW))


@settings(max_examples=150, deadline=None)
@given(
    rule_sets(),
    st.lists(
        st.tuples(lead_strategy(RULES), st.one_of(st.none(), st.integers(0, 400 * 86400))), min_size=1, max_size=12
    ),
)
def test_a_remembered_verdict_equals_the_plain_assessment_for_random_leads_and_rules(
    rules: ScoringRules, drawn: list[tuple[Lead, int | None]]
) -> None:
    verdicts = Verdicts(rules, NOW)
    subjects = [_dated(lead, seconds) for lead, seconds in drawn]
    # Twice over: the second pass reads every projection from memory.
    for subject in [*subjects, *subjects]:
        assert verdicts.verdict(subject) == _plain(subject, rules)


@settings(max_examples=100, deadline=None)
@given(lead_strategy(RULES), st.lists(st.integers(0, 120 * 86400), min_size=2, max_size=30))
def test_leads_alike_but_for_their_last_engagement_each_get_their_own_decay(lead: Lead, silences: list[int]) -> None:
    verdicts = Verdicts(RULES, NOW)
    for seconds in silences:
        subject = _dated(lead, seconds)
        assert verdicts.verdict(subject) == _plain(subject, RULES)


# Equal as dict keys (True == 1 == 1.0, 0.0 == -0.0) yet written differently, which a `matches` rule reads.
LOOKALIKES: list[Any] = [True, 1, 1.0, "1", False, 0, 0.0, -0.0, "0", None, 7, 7.0, "Software", "software"]


def test_values_equal_as_keys_but_of_another_class_are_never_taken_for_one_another(lead: Any) -> None:
    written = {"label": "Written as 1 or -0", "attribute": "industry", "matches": "^(1|-0)", "points": 7}
    rules = ScoringRules.model_validate({**DEFAULTS, "fit": [*DEFAULTS["fit"], written]})
    for attribute in ("industry", "need", "page_views", "seniority", "company_size", "has_won_deal"):
        kept = [v for v in LOOKALIKES if attribute not in ("page_views", "company_size") or not isinstance(v, str)]
        verdicts = Verdicts(rules, NOW)
        for value in [*kept, *reversed(kept)]:
            subject = lead(**{attribute: value})
            assert verdicts.verdict(subject) == _plain(subject, rules), (attribute, value)


def test_rules_on_a_dates_age_are_assessed_per_lead_and_still_agree(lead: Any) -> None:
    recent = {"label": "Engaged this week", "attribute": "last_engagement_at", "days_ago": {"below": 7}, "points": 9}
    rules = ScoringRules.model_validate({**DEFAULTS, "engagement": [*DEFAULTS["engagement"], recent]})
    verdicts = Verdicts(rules, NOW)
    for days in (0, 3, 6, 7, 8, 40, 400):
        subject = lead(last_engagement_at=NOW - timedelta(days=days, seconds=17))
        assert verdicts.verdict(subject) == _plain(subject, rules)


def test_a_lead_whose_score_is_held_at_0_or_100_gets_the_cap_line_as_assess_writes_it(lead: Any) -> None:
    verdicts = Verdicts(RULES, NOW)
    floored = lead(email_domain="competitor.example", lead_status="unqualified", origin="cold_call", need=False)
    capped = lead(
        seniority="executive", company_size=300.0, industry="software", country="sweden", need=True, budget=True,
        authority=True, timeline=True, origin="referral", demo_requested=True, rep_rating="hot", form_submissions=5,
    )  # fmt: skip
    for subject in (floored, capped):
        for days in (0, 20, 90):
            dated = subject.replace(last_engagement_at=NOW - timedelta(days=days, hours=5))
            assert verdicts.verdict(dated) == _plain(dated, RULES)
    assert _plain(floored, RULES).score == 0 and "Score floored at 0" in verdicts.verdict(floored).points
