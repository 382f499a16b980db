"""`leadtherm setup salesforce`, Account side: the account-score fields, read/edit for the integration user."""

from __future__ import annotations

from simple_salesforce.api import Salesforce

from adapters.salesforce.field_setup import _NUMBER_3, FIELD_TYPES, FieldSpec, _ensure_fields, _ensure_permissions
from integration.composition.plugins import SetupReport
from mappings.company import CompanyMapping

_LABELS = {
    "score": "Account Score",
    "fit": "Account Fit",
    "engagement": "Account Engagement",
    "temperature": "Account Temperature",
    "stage": "Account Stage",
    "reasons": "Account Score Reasons",
    "engaged_people": "Account Engaged People",
    "coverage": "Account Buying Group Roles",
}


def account_specs(mapping: CompanyMapping) -> list[FieldSpec]:
    kinds = {"temperature": FIELD_TYPES["temperature"], "stage": FIELD_TYPES["stage"]}
    kinds["reasons"] = FIELD_TYPES["long_text"]
    return [
        FieldSpec(field, _LABELS[key], *kinds.get(key, (_NUMBER_3, "double")))
        for key, field in mapping.outputs.items()
        if field and field.endswith("__c")
    ]


def setup_accounts(sf: Salesforce, mapping: CompanyMapping, user_id: str, report: SetupReport) -> None:
    """Create the Account fields and grant them (idempotent); the outbound message / CDC to add."""
    specs = account_specs(mapping)
    _ensure_fields(sf, specs, [mapping.object], report)
    _ensure_permissions(sf, specs, [mapping.object], user_id, report)
    report.instructions.extend(account_instructions(mapping))


def account_instructions(mapping: CompanyMapping) -> list[str]:
    watched = ", ".join(sorted(mapping.trigger_fields - {mapping.id_field}))
    return [
        "Account scores: a Contact's or Lead's change re-scores its Account; for the Account's own fields,",
        "  either an outbound message on Account (Setup > Workflow Actions > Outbound Messages, object Account,",
        "  fields Id and LastModifiedById, the same endpoint URL) sent by a flow when any of",
        f"    {watched}",
        "  changes; or, with CDC, add Account to the selected entities (topic /data/AccountChangeEvent).",
        "  Do NOT include the Account_* output fields in the flow's condition: leadtherm writes them.",
    ]
