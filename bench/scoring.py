"""Assessment throughput on the default rules, against json.loads of the same records."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from integration.model import Lead
from integration.scoring import assess
from mappings.loader import load_rules

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
    return f"""## Scoring throughput

| measure | value |
|---|---|
| leads assessed (one core, default rules, decay and next-drop prediction included) | {N:,} |
| assessments per second | **{rate:,.0f}** ({verdict} the target of {TARGET:,}/s) |
| `json.loads` of the same leads as JSON, per second | {N / json_s:,.0f} |
| assessment time / `json.loads` time | {assess_s / json_s:.2f}x |
"""
