"""`leadtherm setup salesforce`, Account side: the account-score fields, read/edit for the integration user."""

from __future__ import annotations

from simple_salesforce.api import Salesforce

from adapters.salesforce.field_setup import FIELD_TYPES, FieldSpec, _ensure_fields, _ensure_permissions, _label
from integration.composition.plugins import SetupReport
from mappings.catalogue import COMPANY_OUTPUT_BY_KEY
from mappings.company import CompanyMapping


def account_specs(mapping: CompanyMapping) -> list[FieldSpec]:
    specs = []
    for key, field in mapping.outputs.items():
        output = COMPANY_OUTPUT_BY_KEY[key]
        if field and field.endswith("__c"):
            specs.append(FieldSpec(field, _label(f"Account {output.label}"), *FIELD_TYPES[output.value]))
    return specs


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
