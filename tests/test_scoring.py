"""The domain's cases, as the source articles describe them, through the default rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from integration.domain.model import Stage, Temperature
from integration.domain.scoring import assess
from mappings.schema import ScoringRules
from tests.conftest import MakeLead

BANT = {"need": True, "budget": True, "authority": True, "timeline": True}
NOTHING = {
    "page_views": 0, "visits": 0, "form_submissions": 0, "email_opens": 0, "email_clicks": 0,
    "last_engagement_at": None,
}  # fmt: skip
BUSY = {
    "page_views": 120, "visits": 30, "pricing_page_views": 6, "form_submissions": 5, "downloads": 4, "webinars": 2,
    "email_opens": 40, "email_clicks": 12, "email_replies": 3, "demo_requested": True, "newsletter": True,
}  # fmt: skip


def test_a_purchased_list_contact_with_no_engagement_is_cold(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    cold = assess(lead(origin="purchased_list", title="Sales Rep", seniority="individual", **NOTHING), rules, now)
    assert cold.temperature is Temperature.COLD
    assert cold.next_action == rules.next_actions.cold


def test_a_demo_request_from_a_decision_maker_with_bant_confirmed_is_hot(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    hot = assess(
        lead(title="CEO", seniority="executive", origin="demo_request", demo_requested=True, **BANT), rules, now
    )
    assert hot.temperature is Temperature.HOT
    assert hot.stage is Stage.SQL
    assert hot.rating == 4
    assert hot.next_action.startswith("Hand to sales")


def test_very_high_engagement_without_need_or_budget_confirmed_is_warm_not_hot(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    busy = assess(lead(title="CEO", seniority="executive", origin="referral", **BUSY), rules, now)
    assert busy.score >= rules.temperature.hot  # the score alone would make it hot
    assert busy.temperature is Temperature.WARM
    assert set(busy.missing_for_hot) == {"need", "budget", "authority", "timeline"}


def test_a_warm_lead_that_went_silent_for_90_days_is_cool_or_colder(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    warm_lead = lead(seniority="director", form_submissions=2, page_views=25, visits=6, email_opens=8, email_clicks=3)
    assert assess(warm_lead, rules, now).temperature is Temperature.WARM
    later = assess(warm_lead, rules, now + timedelta(days=90))
    assert later.temperature in {Temperature.COOL, Temperature.COLD}
    assert any(r.label.startswith("No activity for 92 days") and r.points < 0 for r in later.reasons)


def test_opting_out_subtracts(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    assert assess(lead(opted_out=True), rules, now).score < assess(lead(), rules, now).score


def test_a_bounce_subtracts(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    bounced = assess(lead(bounced=True), rules, now)
    assert bounced.score < assess(lead(), rules, now).score
    assert any(r.label == "E-mail bounced" for r in bounced.reasons)


def test_free_mail_student_and_not_interested_subtract(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    base = assess(lead(), rules, now).score
    assert assess(lead(email_domain="gmail.com"), rules, now).score < base
    assert assess(lead(email_domain="student.uu.se"), rules, now).score < base
    assert assess(lead(lead_status="not_interested"), rules, now).score < base


def test_a_won_deal_gives_stage_customer(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    assert assess(lead(has_won_deal=True), rules, now).stage is Stage.CUSTOMER


def test_an_open_deal_or_a_converted_lead_gives_stage_opportunity(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    assert assess(lead(has_open_deal=True), rules, now).stage is Stage.OPPORTUNITY
    assert assess(lead(converted=True), rules, now).stage is Stage.OPPORTUNITY


def test_the_crms_own_lifecycle_never_moves_backwards(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    assert assess(lead(lifecycle=Stage.SQL, **NOTHING), rules, now).stage is Stage.SQL


def test_someone_without_contact_data_is_a_suspect(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    assert assess(lead(has_contact_data=False, **NOTHING), rules, now).stage is Stage.SUSPECT


def test_a_referral_starts_warmer_than_a_purchased_list_contact_with_the_same_activity(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    # One form and one visit: a first sign of interest, from either origin.
    same_activity = {**NOTHING, "seniority": "director", "form_submissions": 1, "visits": 1,
                     "last_engagement_at": now}  # fmt: skip
    referral = assess(lead(origin="referral", **same_activity), rules, now)
    bought = assess(lead(origin="purchased_list", **same_activity), rules, now)
    assert referral.score > bought.score
    assert (referral.temperature, bought.temperature) == (Temperature.WARM, Temperature.COOL)


def test_reasons_say_why_in_plain_language_with_points(lead: MakeLead, rules: ScoringRules, now: datetime) -> None:
    result = assess(lead(title="CEO", seniority="executive"), rules, now)
    title = next(r for r in result.reasons if r.label == "Decision-maker title")
    # 25 fit points at a fit weight of 0.5: about 12.5 points of the final score, as a whole number.
    assert title.on_axis == 25 and title.points in (12, 13)
    assert f"Decision-maker title (+{title.points:.0f})" in [str(r) for r in result.top_reasons()]


def test_reasons_add_up_to_the_score_with_decay_and_caps_as_lines_of_their_own(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    busy = lead(title="CEO", seniority="executive", form_submissions=40, visits=200, page_views=900,
                email_clicks=50, demo_requested=True, timeline=True, need=True, budget=True, authority=True,
                last_engagement_at=now - timedelta(days=64))  # fmt: skip
    result = assess(busy, rules, now)
    assert sum(r.points for r in result.reasons) == result.score
    labels = [r.label for r in result.reasons]
    assert "Fit capped at 100" in labels and "Engagement capped at 100" in labels
    decay = next(r for r in result.reasons if r.axis == "decay")
    assert decay.label == "No activity for 64 days" and decay.points < 0
    assert all(r.points == int(r.points) for r in result.reasons)


def test_starting_points_count_at_the_fit_weight_and_add_up_with_the_reasons(
    lead: MakeLead, rules: ScoringRules, now: datetime
) -> None:
    started = rules.model_copy(update={"starting_points": 12})
    result = assess(lead(title="CEO", seniority="executive"), started, now)
    assert result.starting_points == 6  # 12 fit points at the fit weight of 0.5
    assert all(r.axis != "start" for r in result.reasons)  # no rule earned them
    assert result.starting_points + sum(r.points for r in result.reasons) == result.score
    assert result.lines()[0].label == "Starting points"
