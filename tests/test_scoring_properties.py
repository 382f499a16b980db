"""Properties of the scoring core that must hold for any lead (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.model import ENGAGEMENT_COUNTERS, QUALIFICATION_CRITERIA, Lead, Temperature
from integration.scoring import assess
from mappings.loader import load_rules

RULES = load_rules()
NOW = datetime(2026, 11, 1, tzinfo=UTC)
maybe_bool = st.one_of(st.none(), st.booleans())
counts = st.integers(min_value=0, max_value=500)

leads = st.builds(
    Lead,
    crm=st.just("hubspot"),
    record_id=st.just("1"),
    has_contact_data=st.booleans(),
    seniority=st.sampled_from([None, "executive", "director", "manager", "individual", "student"]),
    company_size=st.one_of(st.none(), st.integers(0, 100_000)),
    industry=st.sampled_from([None, "software", "retail", "banking"]),
    country=st.sampled_from([None, "sweden", "brazil", "germany"]),
    email_domain=st.sampled_from([None, "acme.example", "gmail.com", "student.uu.se", "competitor.example"]),
    origin=st.sampled_from([None, "referral", "purchased_list", "demo_request", "webinar", "cold_call", "other"]),
    need=maybe_bool, budget=maybe_bool, authority=maybe_bool, timeline=maybe_bool,
    page_views=counts, visits=counts, pricing_page_views=counts, form_submissions=counts, downloads=counts,
    webinars=counts, email_opens=counts, email_clicks=counts, email_replies=counts, social_follows=counts,
    demo_requested=st.booleans(), newsletter=st.booleans(),
    last_engagement_at=st.one_of(st.none(), st.integers(-400, 3).map(lambda d: NOW + timedelta(days=d))),
    lead_status=st.sampled_from([None, "open", "working", "not_interested"]),
    rep_rating=st.sampled_from([None, "hot", "warm", "cold"]),
    has_open_deal=st.booleans(), has_won_deal=st.booleans(), converted=st.booleans(),
    opted_out=st.booleans(), bounced=st.booleans(),
)  # fmt: skip


def _with(lead: Lead, **changes: object) -> Lead:
    values = {name: getattr(lead, name) for name in Lead.__slots__}
    values.update(changes)
    return Lead(**values)


@settings(max_examples=300)
@given(leads, st.integers(0, 1000))
def test_score_fit_and_engagement_stay_within_0_and_100(lead: Lead, days: int) -> None:
    result = assess(lead, RULES, NOW + timedelta(days=days))
    assert 0 <= result.score <= 100
    assert 0 <= result.fit <= 100
    assert 0 <= result.engagement <= 100


@settings(max_examples=300)
@given(
    leads,
    st.one_of(
        st.tuples(st.sampled_from(ENGAGEMENT_COUNTERS), st.integers(1, 50)),
        st.tuples(st.sampled_from([*QUALIFICATION_CRITERIA, "demo_requested", "newsletter"]), st.just(True)),
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
        better = _with(lead, **{name: getattr(lead, name) + amount})
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
