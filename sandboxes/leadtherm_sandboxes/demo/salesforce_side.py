"""The demo's Salesforce org: the HTTPS sandbox, seeded with Leads and nudged as time goes by."""

from __future__ import annotations

import errno
import os
import random
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import trustme
from flask import Response, request

from adapters.salesforce.inbound import outbound_endpoint
from leadtherm_sandboxes.demo.people import Persona, outcome
from leadtherm_sandboxes.demo.rep_route import REP_ROUTE, rep_change
from leadtherm_sandboxes.salesforce.pubsub_sandbox import PubSubSandbox
from leadtherm_sandboxes.salesforce.sandbox import STANDARD, SalesforceSandbox

REP_USER_ID = "0055g00000PersonAAA"  # a sales rep of the sandbox org: not the integration user

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

    def __init__(
        self, clock: Callable[[], datetime], seed: int, state_dir: Path | None = None, pubsub: bool = False
    ) -> None:
        self.clock = clock
        self.sandbox = SalesforceSandbox(seed=seed)
        self.ids: list[str] = []
        self.outbound_secret = secrets.token_urlsafe(24)  # the demo admin's endpoint-URL secret
        if state_dir is not None:
            self._keep_state(state_dir)
        self.pubsub = PubSubSandbox(self.sandbox) if pubsub else None
        self.sandbox.app.add_url_rule(
            f"{REP_ROUTE}/<object_type>/<record_id>", "rep_change", self._rep_change, methods=["POST"]
        )

    def _keep_state(self, folder: Path) -> None:
        """Reuse (or create and keep) the outbound secret and the test CA, so exports survive a restart."""
        folder.mkdir(parents=True, exist_ok=True)
        secret, cert, key = folder / "outbound-secret", folder / "sandbox-ca.pem", folder / "sandbox-ca.key"
        if secret.is_file():
            self.outbound_secret = secret.read_text().strip()
        else:
            secret.write_text(self.outbound_secret + "\n")
            secret.chmod(0o600)
        if cert.is_file() and key.is_file():
            self.sandbox.ca = trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
        else:
            self.sandbox.ca.cert_pem.write_to_path(str(cert))
            self.sandbox.ca.private_key_pem.write_to_path(str(key))
            key.chmod(0o600)
        self.sandbox.ca_bundle_path = str(cert)

    def start(self, port: int = 0) -> dict[str, str]:
        self.sandbox.start(port)
        # simple-salesforce speaks only HTTPS: trust the sandbox's test CA for this process.
        os.environ["REQUESTS_CA_BUNDLE"] = self.sandbox.ca_bundle_path
        env = {
            "SALESFORCE_CA_BUNDLE": self.sandbox.ca_bundle_path,
            "SALESFORCE_USERNAME": self.sandbox.username,
            "SALESFORCE_PASSWORD": self.sandbox.password,
            "SALESFORCE_SECURITY_TOKEN": self.sandbox.security_token,
            "SALESFORCE_DOMAIN": self.sandbox.login_domain,
            "SALESFORCE_ORG_ID": self.sandbox.org_id,
            "SALESFORCE_OUTBOUND_SECRET": self.outbound_secret,
        }
        if self.pubsub is not None:
            pubsub_port = port + 1 if 0 < port < 65535 else 0
            try:
                env["SALESFORCE_PUBSUB_ENDPOINT"] = self.pubsub.start(pubsub_port)
            except RuntimeError:  # gRPC's "Failed to bind"
                self.sandbox.stop()
                raise OSError(errno.EADDRINUSE, f"the Pub/Sub endpoint's port {pubsub_port} is in use") from None
            env["SALESFORCE_PUBSUB_CA_BUNDLE"] = self.sandbox.ca_bundle_path
            env["SALESFORCE_CDC"] = "1"
        return env

    @property
    def rep_url(self) -> str:
        """Where a rep's change is posted: `POST {rep_url}/Lead/<id>` with the fields as JSON."""
        return f"{self.sandbox.base_url}{REP_ROUTE}"

    @property
    def rep_example(self) -> str:
        open_leads = [i for i in self.ids if not self.sandbox.record("Lead", i).get("IsConverted")]
        first = open_leads[0] if open_leads else "<lead id>"
        return (
            f'curl --cacert "$SALESFORCE_CA_BUNDLE" -X POST {self.rep_url}/Lead/{first} '
            """-d '{"Rating": "Hot", "Status": "Working - Contacted"}'"""
        )

    def _rep_change(self, object_type: str, record_id: str) -> Response:
        def update(fields: dict[str, Any]) -> None:
            self.sandbox.update_record(object_type, record_id, fields, by_user=REP_USER_ID)

        with self.sandbox.lock:
            known = object_type in ("Lead", "Contact") and record_id in self.sandbox.objects[object_type]
            names = set(STANDARD.get(object_type, {})) | {
                f.partition(".")[2] for f in self.sandbox.custom_fields if f.startswith(f"{object_type}.")
            }
            return rep_change(request.get_data(), known, names, update)

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

    def seed_history(self, people: list[Persona], rng: random.Random) -> None:
        """Converted Leads whose Opportunities were won or lost, so `calibrate salesforce` has outcomes."""
        for lead_id, person in zip(self.ids, people, strict=True):
            ended = outcome(person, rng)
            if ended is not None:
                self.sandbox.convert_lead(lead_id)
                opportunity = self.sandbox.record("Lead", lead_id)["ConvertedOpportunityId"]
                self.sandbox.close_opportunity(str(opportunity), won=ended == "won")

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
        if self.pubsub is not None:
            self.pubsub.stop()
        self.sandbox.stop()
