"""The demo's Salesforce org: the HTTPS sandbox, seeded with Leads and nudged as time goes by."""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Callable
from datetime import datetime

from adapters.salesforce.inbound import outbound_endpoint
from adapters.salesforce.sandbox import SalesforceSandbox
from webhooks.demo.people import Persona

_SOURCES = {
    "referral": "Employee Referral",
    "organic_search": "Web",
    "webinar": "Webinar",
    "website": "Web",
    "purchased_list": "Purchased List",
    "demo_request": "Demo Request",
    "cold_call": "Cold Call",
}


class SalesforceDemo:
    name = "salesforce"
    label = "Salesforce"

    def __init__(self, clock: Callable[[], datetime], seed: int) -> None:
        self.clock = clock
        self.sandbox = SalesforceSandbox(seed=seed)
        self.ids: list[str] = []
        self.outbound_secret = secrets.token_urlsafe(24)  # the demo admin's endpoint-URL secret

    def start(self, port: int = 0) -> dict[str, str]:
        self.sandbox.start(port)
        # simple-salesforce speaks only HTTPS: trust the sandbox's test CA for this process.
        os.environ["REQUESTS_CA_BUNDLE"] = self.sandbox.ca_bundle_path
        return {
            "REQUESTS_CA_BUNDLE": self.sandbox.ca_bundle_path,
            "SALESFORCE_USERNAME": self.sandbox.username,
            "SALESFORCE_PASSWORD": self.sandbox.password,
            "SALESFORCE_SECURITY_TOKEN": self.sandbox.security_token,
            "SALESFORCE_DOMAIN": self.sandbox.login_domain,
            "SALESFORCE_ORG_ID": self.sandbox.org_id,
            "SALESFORCE_OUTBOUND_SECRET": self.outbound_secret,
        }

    def connect(self, app_url: str) -> None:
        self.sandbox.configure_outbound(outbound_endpoint(app_url, self.outbound_secret), time_scale=0.01)

    def seed(self, people: list[Persona]) -> None:
        today = self.clock().strftime("%Y-%m-%d")
        for person in people:
            rating = "Warm" if person.page_views > 15 else ""
            self.ids.append(
                self.sandbox.create_lead(
                    {
                        "FirstName": person.first,
                        "LastName": person.last,
                        "Email": person.email,
                        "Title": person.title,
                        "Company": person.company,
                        "NumberOfEmployees": person.employees,
                        "Industry": person.industry,
                        "Country": person.country,
                        "LeadSource": _SOURCES[person.origin],
                        "Status": "Open - Not Contacted",
                        "Rating": rating,
                        "HasOptedOutOfEmail": person.opted_out,
                        "LastActivityDate": today if person.visits else None,
                    }
                )
            )

    def act(self, rng: random.Random) -> tuple[str, str] | None:
        """What a rep does in Salesforce: log activity, rate a lead, record BANT answers."""
        lead = rng.choice(self.ids)
        today = self.clock().strftime("%Y-%m-%d")
        roll = rng.random()
        changes: dict[str, object]
        if roll < 0.5:
            changes, what = {"Status": "Working - Contacted", "LastActivityDate": today}, "rep logged a call"
        elif roll < 0.8:
            changes, what = {"Rating": "Warm", "LastActivityDate": today}, "rep rated the lead warm"
        else:
            warm = [i for i in self.ids if self.sandbox.record("Lead", i).get("Lead_Temperature__c") == "warm"]
            if not warm:
                return None
            lead = rng.choice(warm)
            changes = {f"BANT_{c}__c": True for c in ("Need", "Budget", "Authority", "Timeline")}
            changes.update(Rating="Hot", LastActivityDate=today)
            what = "rep confirmed need, budget, authority, timeline"
        self.sandbox.update_record("Lead", lead, changes)
        return lead, what

    def temperatures(self) -> dict[str, str | None]:
        return {i: self.sandbox.record("Lead", i).get("Lead_Temperature__c") for i in self.ids}

    def stop(self) -> None:
        self.sandbox.stop()
