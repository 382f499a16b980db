"""Assessment throughput on the default rules, and on the defaults plus 10 custom attributes, against json.loads."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from integration.domain.model import Lead
from integration.domain.scoring import assess
from mappings.loader import load_rules
from mappings.schema import ScoringRules

N = 200_000
NOW = datetime(2026, 11, 1, tzinfo=UTC)
TARGET = 50_000


def _leads(n: int) -> list[Lead]:
    rng = random.Random(7)
    origins = ["referral", "purchased_list", "organic_search", "webinar", "demo_request", None]
    seniorities = ["executive", "director", "manager", "individual", None]
    leads = []
    for i in range(n):
        leads.append(
            Lead.of(
                crm="hubspot",
                record_id=str(i),
                has_contact_data=True,
                seniority=rng.choice(seniorities),
                company_size=rng.choice([3, 37, 300, 2000, 8000, None]),
                industry=rng.choice(["software", "retail", "banking", None]),
                country=rng.choice(["germany", "sweden", "brazil", None]),
                email_domain=rng.choice(["acme.example", "gmail.com", "uni.edu"]),
                origin=rng.choice(origins),
                need=rng.choice([True, False, None]),
                budget=rng.choice([True, None]),
                authority=rng.choice([True, None]),
                timeline=rng.choice([True, None]),
                page_views=rng.randint(0, 80),
                visits=rng.randint(0, 20),
                form_submissions=rng.randint(0, 4),
                email_opens=rng.randint(0, 30),
                email_clicks=rng.randint(0, 10),
                demo_requested=rng.random() < 0.1,
                last_engagement_at=NOW - timedelta(days=rng.randint(0, 200)),
                opted_out=rng.random() < 0.05,
            )
        )
    return leads


CUSTOM = 10


def _with_custom(leads: list[Lead], rules: ScoringRules) -> tuple[list[Lead], ScoringRules]:
    """The same leads with 10 admin attributes (5 picklists, 5 counts) and a rule or two on each."""
    rng = random.Random(11)
    picks = ["analytics", "connectors", "platform", "services", None]
    extended = [
        lead.replace(
            **{f"pick_{i}": rng.choice(picks) for i in range(CUSTOM // 2)},
            **{f"count_{i}": rng.randint(0, 40) for i in range(CUSTOM // 2)},
        )
        for lead in leads
    ]
    fit = [{"label": f"Picklist {i}: analytics", "attribute": f"pick_{i}", "is": "analytics", "points": 4}
           for i in range(CUSTOM // 2)]  # fmt: skip
    fit += [{"label": f"Picklist {i}: platform or services", "attribute": f"pick_{i}",
             "in": ["platform", "services"], "points": 2} for i in range(CUSTOM // 2)]  # fmt: skip
    engagement = [{"label": f"Count {i}", "attribute": f"count_{i}", "each": 5, "points": 1, "max_points": 5}
                  for i in range(CUSTOM // 2)]  # fmt: skip
    data = rules.model_dump(by_alias=True, exclude_none=True)
    data["fit"] = [*data["fit"], *fit]
    data["engagement"] = [*data["engagement"], *engagement]
    return extended, ScoringRules.model_validate(data)


def _best_of(runs: int, work: object) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def run() -> str:
    rules = load_rules()
    leads = _leads(N)
    assess(leads[0], rules, NOW)  # compile the rules outside the timing
    assess_s = _best_of(3, lambda: [assess(lead, rules, NOW) for lead in leads])
    payloads = [json.dumps(dict(lead.values), default=str) for lead in leads]
    json_s = _best_of(3, lambda: [json.loads(p) for p in payloads])
    rate = N / assess_s
    verdict = "meets" if rate >= TARGET else "MISSES"
    custom_leads, custom_rules = _with_custom(leads, rules)
    assess(custom_leads[0], custom_rules, NOW)
    custom_rate = N / _best_of(3, lambda: [assess(lead, custom_rules, NOW) for lead in custom_leads])
    custom_verdict = "meets" if custom_rate >= TARGET else "MISSES"
    return f"""## Scoring throughput

| measure | value |
|---|---|
| leads assessed (one core, default rules, decay and next-drop prediction included) | {N:,} |
| assessments per second, default rules | **{rate:,.0f}** ({verdict} the target of {TARGET:,}/s) |
| assessments per second, defaults plus {CUSTOM} custom attributes ({len(custom_rules.fit) + len(custom_rules.engagement) - len(rules.fit) - len(rules.engagement)} more rules) | **{custom_rate:,.0f}** ({custom_verdict} the target of {TARGET:,}/s) |
| `json.loads` of the same leads as JSON, per second | {N / json_s:,.0f} |
| assessment time / `json.loads` time | {assess_s / json_s:.2f}x |
"""
