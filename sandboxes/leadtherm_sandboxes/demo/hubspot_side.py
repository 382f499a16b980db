"""The demo's HubSpot portal: the local sandbox, seeded with personas and nudged as time goes by."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, request

from leadtherm_sandboxes.demo.people import Persona, outcome
from leadtherm_sandboxes.demo.rep_route import REP_ROUTE, rep_change
from leadtherm_sandboxes.hubspot.sandbox import HubSpotSandbox
from mappings.catalogue import QUALIFICATION

TOKEN = "demo-hubspot-token"
SECRET = "demo-hubspot-client-secret"
CLIENT_ID = "demo-hubspot-client-id"
_SOURCES = {
    "referral": "REFERRALS",
    "organic_search": "ORGANIC_SEARCH",
    "webinar": "OTHER_CAMPAIGNS",
    "website": "DIRECT_TRAFFIC",
    "purchased_list": "OFFLINE",
    "demo_request": "PAID_SEARCH",
    "cold_call": "OFFLINE",
}
_RANGES = [(5, "1-5"), (25, "5-25"), (50, "25-50"), (100, "50-100"), (500, "100-500"), (1000, "500-1000")]


def _range(employees: int) -> str:
    return next((label for limit, label in _RANGES if employees <= limit), "1000+")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class HubSpotDemo:
    name = "hubspot"
    label = "HubSpot"

    def __init__(self, clock: Callable[[], datetime], seed: int, journal: bool = False) -> None:
        self.clock = clock
        self.journal = journal  # changes pulled from the webhooks journal rather than pushed as webhooks
        self.sandbox = HubSpotSandbox(access_token=TOKEN, seed=seed)
        self.sandbox.journal.client_id, self.sandbox.journal.client_secret = CLIENT_ID, SECRET
        self.ids: list[str] = []
        self.sandbox.app.add_url_rule(
            f"{REP_ROUTE}/contacts/<contact_id>", "rep_change", self._rep_change, methods=["POST"]
        )

    @property
    def rep_url(self) -> str:
        """Where a rep's change is posted: `POST {rep_url}/contacts/<id>` with the properties as JSON."""
        return f"{self.sandbox.base_url}{REP_ROUTE}"

    @property
    def rep_example(self) -> str:
        first = self.ids[0] if self.ids else "1001"
        return (
            f'curl -X POST -H "Authorization: Bearer $HUBSPOT_ACCESS_TOKEN" {self.rep_url}/contacts/{first} '
            """-d '{"leadtherm_need": true, "hs_analytics_num_page_views": 40}'"""
        )

    def _rep_change(self, contact_id: str) -> Response:
        def update(values: dict[str, Any]) -> None:
            properties = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
            self.sandbox.update_contact(contact_id, properties, source="CRM_UI")

        with self.sandbox.lock:
            return rep_change(request.get_data(), contact_id in self.sandbox.contacts, self.sandbox.properties, update)

    def start(self, port: int = 0) -> dict[str, str]:
        base_url = self.sandbox.start(port)
        env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_CLIENT_SECRET": SECRET, "HUBSPOT_API_BASE": base_url}
        if self.journal:  # `setup` then subscribes the journal, and the runtime's intakes read it
            env |= {
                "HUBSPOT_JOURNAL": "1",
                "HUBSPOT_CLIENT_ID": CLIENT_ID,
                "HUBSPOT_PORTAL_ID": str(self.sandbox.portal_id),
            }
        return env

    def connect(self, app_url: str) -> None:
        if not self.journal:
            self.sandbox.configure_webhooks(f"{app_url}/webhooks/hubspot", client_secret=SECRET, time_scale=0.01)

    def seed(self, people: list[Persona]) -> None:
        now = _iso(self.clock())
        for person in people:
            properties = {
                "email": person.email,
                "firstname": person.first,
                "lastname": person.last,
                "jobtitle": person.title,
                "company": person.company,
                "numemployees": _range(person.employees),
                "industry": person.industry,
                "country": person.country,
                "hs_analytics_source": _SOURCES[person.origin],
                "hs_analytics_num_page_views": str(person.page_views),
                "hs_analytics_num_visits": str(person.visits),
                "num_conversion_events": str(person.forms),
                "hs_email_open": str(person.opens),
                "hs_email_click": str(person.clicks),
                "hs_email_optout": "true" if person.opted_out else "false",
            }
            if person.visits:
                properties["hs_analytics_last_visit_timestamp"] = now
            self.ids.append(self.sandbox.create_contact(properties))

    def seed_history(self, people: list[Persona], rng: random.Random) -> None:
        """Deals of the seeded contacts, won or lost, so `calibrate hubspot` has outcomes to learn from."""
        for contact_id, person in zip(self.ids, people, strict=True):
            ended = outcome(person, rng)
            if ended is not None:
                stage = "closedwon" if ended == "won" else "closedlost"
                amount = str(rng.choice([4_000, 12_000, 30_000, 75_000]))
                self.sandbox.create_deal(
                    {"dealname": f"{person.company} deal", "dealstage": stage, "amount": amount}, [contact_id]
                )

    def _bump(self, contact_id: str, name: str, by: int) -> str:
        current = self.sandbox.contact(contact_id).get(name) or "0"
        return str(int(float(current)) + by)

    def act(self, rng: random.Random) -> tuple[str, str] | None:
        """One thing a contact (or a rep) does; returns (contact id, what happened)."""
        contact_id = rng.choice(self.ids)
        now = _iso(self.clock())
        roll = rng.random()
        if roll < 0.45:
            changes = {
                "hs_analytics_num_page_views": self._bump(
                    contact_id, "hs_analytics_num_page_views", rng.randint(3, 12)
                ),
                "hs_analytics_num_visits": self._bump(contact_id, "hs_analytics_num_visits", 1),
                "hs_analytics_last_visit_timestamp": now,
            }
            what = "browsed the site"
        elif roll < 0.65:
            changes = {
                "num_conversion_events": self._bump(contact_id, "num_conversion_events", 1),
                "hs_analytics_last_visit_timestamp": now,
            }
            what = "filled in a form"
        elif roll < 0.85:
            changes = {
                "hs_email_open": self._bump(contact_id, "hs_email_open", 2),
                "hs_email_click": self._bump(contact_id, "hs_email_click", 1),
                "hs_email_last_open_date": now,
            }
            what = "clicked a newsletter"
        else:
            warm = [i for i in self.ids if self.sandbox.contact(i).get("leadtherm_temperature") == "warm"]
            if not warm:
                return None
            contact_id = rng.choice(warm)
            changes = {f"leadtherm_{c}": "true" for c in QUALIFICATION}
            changes["hs_last_sales_activity_timestamp"] = now
            what = "rep confirmed need, budget, authority, timeline"
        self.sandbox.update_contact(contact_id, changes, source="CRM_UI")
        return contact_id, what

    def temperatures(self) -> dict[str, str | None]:
        return {i: self.sandbox.contact(i).get("leadtherm_temperature") or None for i in self.ids}

    def rate_limited(self) -> int:
        return int(self.sandbox.count_429)

    def stop(self) -> None:
        self.sandbox.stop()
