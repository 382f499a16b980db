"""`leadtherm setup hubspot` with HUBSPOT_JOURNAL=1: the journal subscriptions, created or checked.

Contacts: creation, deletion, merge, restore, and property changes for exactly the properties
the mapping reads (custom ones included; leadtherm's own outputs left out, so its writes are
not journaled back); privacy deletions; deals: creation and the stage/amount changes that
re-score their contacts; with company scores, companies: creation, deletion, restore and changes
to the properties their score reads. Each subscription is upserted only when it differs from what
HubSpot holds, so running setup again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.hubspot.endpoints import DEFAULT_API_BASE
from adapters.hubspot.inbound import _DEAL_PROPERTIES
from adapters.hubspot.journal.api import JournalApi
from adapters.hubspot.journal.settings import JournalSettings
from integration.composition.plugins import SetupReport
from mappings.schema import CrmMapping

CONTACT, COMPANY, DEAL = "0-1", "0-2", "0-3"


def wanted_subscriptions(mapping: CrmMapping, portal_id: int) -> list[dict[str, Any]]:
    """The subscription bodies leadtherm needs, as the management API takes them."""
    watched = sorted(set(mapping.read_fields) - mapping.own_fields - {mapping.id_field})
    companies = []
    if mapping.company is not None:  # a company's own change re-scores it; its people's come as contacts'
        companies.append(
            {
                "subscriptionType": "OBJECT",
                "portalId": portal_id,
                "objectTypeId": COMPANY,
                "actions": ["CREATE", "UPDATE", "DELETE", "RESTORE"],
                "properties": sorted(mapping.company.trigger_fields - {mapping.company.id_field}),
                "objectIds": [],
            }
        )
    return [
        {
            "subscriptionType": "OBJECT",
            "portalId": portal_id,
            "objectTypeId": CONTACT,
            "actions": ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE"],
            "properties": watched,
            "objectIds": [],
        },
        {
            "subscriptionType": "GDPR_PRIVACY_DELETION",
            "portalId": portal_id,
            "objectTypeId": CONTACT,
            "actions": ["GDPR_DELETE"],
            "properties": [],
            "objectIds": [],
        },
        {
            "subscriptionType": "OBJECT",
            "portalId": portal_id,
            "objectTypeId": DEAL,
            "actions": ["CREATE", "UPDATE"],
            "properties": sorted(_DEAL_PROPERTIES),
            "objectIds": [],
        },
        *companies,
    ]


def _label(body: dict[str, Any]) -> str:
    kind = {CONTACT: "contacts", COMPANY: "companies", DEAL: "deals"}.get(body["objectTypeId"], body["objectTypeId"])
    described = f"journal subscription {body['subscriptionType']} {kind}: {', '.join(body['actions'])}"
    if body["properties"]:
        described += f" ({len(body['properties'])} properties)"
    return described


def _same(held: dict[str, Any], body: dict[str, Any]) -> bool:
    return set(held.get("actions") or []) >= set(body["actions"]) and sorted(held.get("properties") or []) == sorted(
        body["properties"]
    )


def ensure_subscriptions(api: JournalApi, mapping: CrmMapping, portal_id: int, report: SetupReport) -> None:
    """Create or update what differs; note each subscription in `report`."""
    held = api.subscriptions()
    for body in wanted_subscriptions(mapping, portal_id):
        match = next(
            (
                s
                for s in held
                if s.get("subscriptionType") == body["subscriptionType"]
                and s.get("objectTypeId") == body["objectTypeId"]
                and s.get("portalId") in (None, portal_id)
                and s.get("deletedAt") is None
            ),
            None,
        )
        if match is not None and _same(match, body):
            report.unchanged.append(_label(body))
            continue
        api.upsert_subscription(body)
        report.created.append(_label(body) + (" (updated)" if match is not None else ""))


def setup_journal(env: Mapping[str, str], mapping: CrmMapping, report: SetupReport) -> None:
    """The journal part of `setup hubspot`: its subscriptions, through the app's client-credentials token."""
    api_base = env.get("HUBSPOT_API_BASE") or DEFAULT_API_BASE
    settings = JournalSettings.from_env(env, api_base)
    api = JournalApi(settings.client_id, settings.client_secret, settings.portal_id, api_base)
    ensure_subscriptions(api, mapping, settings.portal_id, report)
    report.instructions.append(
        f"The webhooks journal of portal {settings.portal_id} is read by `leadtherm listen hubspot` "
        "(and by `serve` with HUBSPOT_JOURNAL=1): no target URL, nothing exposed."
    )
