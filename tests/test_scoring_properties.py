"""Properties of the scoring core that must hold for any lead (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.domain.model import Lead, Temperature
from integration.domain.scoring import assess
from mappings.catalogue import BUILTIN
from mappings.loader import load_rules
from tests.strategies import NOW
from tests.strategies import leads as lead_strategy

RULES = load_rules()
leads = lead_strategy(RULES)
COUNTERS = [a.name for a in BUILTIN if a.decays and a.kind == "integer"]
POSITIVE_FLAGS = [a.name for a in BUILTIN if a.kind == "boolean" and (a.decays or a.role == "criterion")]


def _with(lead: Lead, **changes: object) -> Lead:
    return lead.replace(**changes)


@settings(max_examples=300)
@given(leads, st.integers(0, 1000))
def test_score_fit_and_engagement_stay_within_0_and_100(lead: Lead, days: int) -> None:
    result = assess(lead, RULES, NOW + timedelta(days=days))
    assert 0 <= result.score <= 100
    assert 0 <= result.fit <= 100
    assert 0 <= result.engagement <= 100


@settings(max_examples=300)
@given(leads, st.integers(0, 1000))
def test_reasons_are_whole_points_that_add_up_to_the_score(lead: Lead, days: int) -> None:
    result = assess(lead, RULES, NOW + timedelta(days=days))
    assert all(r.points == int(r.points) for r in result.lines())
    assert sum(int(r.points) for r in result.lines()) == result.score
    assert sum(int(r.points) for r in result.reasons) + result.starting_points == result.score


@settings(max_examples=300)
@given(
    leads,
    st.one_of(
        st.tuples(st.sampled_from(COUNTERS), st.integers(1, 50)),
        st.tuples(st.sampled_from(POSITIVE_FLAGS), st.just(True)),
        st.tuples(st.just("last_engagement_at"), st.integers(0, 30)),
    ),
)
def test_adding_positive_evidence_never_lowers_the_score(lead: Lead, evidence: tuple[str, int | bool]) -> None:
    name, amount = evidence
    if name == "last_engagement_at":
        newer = NOW - timedelta(days=int(amount))
        # Only a newer date is evidence; an unknown date means "no decay", not "long ago".
        if lead.last_engagement_at is None or lead.last_engagement_at > newer:
            return
        better = _with(lead, last_engagement_at=newer)
    elif isinstance(amount, bool):
        better = _with(lead, **{name: True})
    else:
        better = _with(lead, **{name: lead.get(name) + amount})
    before, after = assess(lead, RULES, NOW), assess(better, RULES, NOW)
    assert after.score >= before.score
    assert after.temperature.rank >= before.temperature.rank


@settings(max_examples=300)
@given(leads, st.integers(0, 400), st.integers(1, 400))
def test_assessing_later_without_new_activity_never_raises_engagement(lead: Lead, start: int, more: int) -> None:
    earlier = assess(lead, RULES, NOW + timedelta(days=start))
    later = assess(lead, RULES, NOW + timedelta(days=start + more))
    assert later.engagement <= earlier.engagement
    assert later.score <= earlier.score


@settings(max_examples=300)
@given(leads)
def test_the_predicted_drop_time_is_when_the_temperature_really_drops(lead: Lead) -> None:
    result = assess(lead, RULES, NOW)
    if result.next_drop_at is None:
        assert (
            result.temperature is Temperature.COLD
            or lead.last_engagement_at is None
            or result.engagement == 0
            or (assess(lead, RULES, NOW + timedelta(days=10_000)).temperature is result.temperature)
        )
        return
    assert result.next_drop_at > NOW
    just_before = assess(lead, RULES, result.next_drop_at - timedelta(seconds=1))
    at_drop = assess(lead, RULES, result.next_drop_at)
    assert just_before.temperature is result.temperature
    assert at_drop.temperature.rank < result.temperature.rank
