"""The Lead attributes a mapping may fill and a rule may test, with their kinds.

Kept here (not imported from the core) so that `mappings` depends on nothing but
pydantic and PyYAML; a test checks it agrees with `integration.model.Lead`.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["text", "integer", "number", "boolean", "datetime", "stage"]

LEAD_ATTRIBUTES: dict[str, Kind] = {
    "has_contact_data": "boolean",
    "title": "text",
    "seniority": "text",
    "company_size": "integer",
    "annual_revenue": "number",
    "industry": "text",
    "country": "text",
    "email_domain": "text",
    "origin": "text",
    "need": "boolean",
    "budget": "boolean",
    "authority": "boolean",
    "timeline": "boolean",
    "page_views": "integer",
    "visits": "integer",
    "pricing_page_views": "integer",
    "form_submissions": "integer",
    "downloads": "integer",
    "webinars": "integer",
    "email_opens": "integer",
    "email_clicks": "integer",
    "email_replies": "integer",
    "social_follows": "integer",
    "demo_requested": "boolean",
    "newsletter": "boolean",
    "last_engagement_at": "datetime",
    "lifecycle": "stage",
    "lead_status": "text",
    "rep_rating": "text",
    "has_open_deal": "boolean",
    "has_won_deal": "boolean",
    "converted": "boolean",
    "opted_out": "boolean",
    "bounced": "boolean",
}

STAGES = ("suspect", "lead", "mql", "sql", "opportunity", "customer")
TEMPERATURES = ("cold", "cool", "warm", "hot")
QUALIFICATION = ("need", "budget", "authority", "timeline")

# What leadtherm writes back; a mapping names the CRM field for each (or null to skip it).
OUTPUT_KEYS = (
    "score",
    "fit",
    "engagement",
    "temperature",
    "stage",
    "reasons",
    "next_action",
    "previous_temperature",
    "temperature_changed_at",
)
