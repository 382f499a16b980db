"""`leadtherm setup salesforce`: custom fields on Lead and Contact, and the permission set that shows them.

A field created through the Tooling API is invisible, to the API too, until field-level
security grants it: so setup also creates the `Leadtherm` permission set with read/edit on
every leadtherm field and assigns it to the integration user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simple_salesforce.api import Salesforce

from adapters.salesforce.client import soql_literal
from adapters.salesforce.errors import call
from adapters.salesforce.pubsub.setup_steps import cdc_instructions
from integration.errors import PermanentCrmError
from integration.plugins import SetupReport
from mappings.attributes import QUALIFICATION, STAGES, TEMPERATURES
from mappings.schema import CrmMapping

PERMISSION_SET = "Leadtherm"


def _picklist(values: tuple[str, ...]) -> dict[str, Any]:
    return {
        "restricted": True,
        "valueSetDefinition": {
            "sorted": False,
            "value": [{"fullName": v, "label": v, "default": False} for v in values],
        },
    }


@dataclass(frozen=True)
class FieldSpec:
    name: str  # API name, e.g. Lead_Score__c
    label: str
    metadata: dict[str, Any]
    describe_type: str  # what describe() reports for it

    def body(self, object_type: str) -> dict[str, Any]:
        return {"FullName": f"{object_type}.{self.name}", "Metadata": {"label": self.label, **self.metadata}}


_OUTPUTS: dict[str, tuple[str, dict[str, Any], str]] = {
    "score": ("Lead Score", {"type": "Number", "precision": 3, "scale": 0}, "double"),
    "fit": ("Lead Fit", {"type": "Number", "precision": 3, "scale": 0}, "double"),
    "engagement": ("Lead Engagement", {"type": "Number", "precision": 3, "scale": 0}, "double"),
    "temperature": (
        "Lead Temperature",
        {"type": "Picklist", "valueSet": _picklist(TEMPERATURES)},
        "picklist",
    ),
    "stage": ("Lead Stage", {"type": "Picklist", "valueSet": _picklist(STAGES)}, "picklist"),
    "reasons": (
        "Lead Score Reasons",
        {"type": "LongTextArea", "length": 32768, "visibleLines": 5},
        "textarea",
    ),
    "next_action": ("Lead Next Action", {"type": "Text", "length": 255}, "string"),
    "previous_temperature": (
        "Lead Previous Temperature",
        {"type": "Picklist", "valueSet": _picklist(TEMPERATURES)},
        "picklist",
    ),
    "temperature_changed_at": ("Lead Temperature Changed At", {"type": "DateTime"}, "datetime"),
}


def field_specs(mapping: CrmMapping) -> list[FieldSpec]:
    specs = [
        FieldSpec(field, label, metadata, kind)
        for key, (label, metadata, kind) in _OUTPUTS.items()
        if (field := mapping.output_field(key)) and field.endswith("__c")
    ]
    for criterion in QUALIFICATION:
        spec = mapping.attributes.get(criterion)
        if spec is not None and spec.field is not None and spec.field.endswith("__c"):
            label = f"BANT {criterion.capitalize()} Confirmed"
            specs.append(FieldSpec(spec.field, label, {"type": "Checkbox", "defaultValue": "false"}, "boolean"))
    return specs


def _existing_fields(sf: Salesforce, object_type: str) -> set[str]:
    soql = f"SELECT DeveloperName FROM CustomField WHERE TableEnumOrId = {soql_literal(object_type)}"
    answer = call(lambda: sf.toolingexecute(f"query/?q={soql}"))
    return {f"{r['DeveloperName']}__c" for r in (answer or {}).get("records", [])}


def _tooling_create(sf: Salesforce, body: dict[str, Any]) -> None:
    call(lambda: sf.toolingexecute("sobjects/CustomField", method="POST", data=body))


def _create(sf: Salesforce, object_type: str, values: dict[str, Any]) -> None:
    call(lambda: _sobject(sf, object_type).create(values))


def _describe(sf: Salesforce, object_type: str) -> dict[str, Any]:
    described: dict[str, Any] = call(lambda: _sobject(sf, object_type).describe())
    return described


def _ensure_fields(sf: Salesforce, specs: list[FieldSpec], objects: list[str], report: SetupReport) -> None:
    for object_type in objects:
        existing = _existing_fields(sf, object_type)
        for spec in specs:
            if spec.name in existing:
                report.unchanged.append(f"field {object_type}.{spec.name}")
                continue
            body = spec.body(object_type)
            _tooling_create(sf, body)
            report.created.append(f"field {object_type}.{spec.name} ({spec.metadata['type']})")


def _sobject(sf: Salesforce, name: str) -> Any:
    """The SDK's handle on one sObject type (`sf.Lead`), typed loosely as the SDK builds it."""
    return sf.__getattr__(name)


def _single_id(sf: Salesforce, soql: str) -> str | None:
    records = call(lambda: sf.query(soql))["records"]
    return str(records[0]["Id"]) if records else None


def _ensure_permissions(
    sf: Salesforce, specs: list[FieldSpec], objects: list[str], user_id: str, report: SetupReport
) -> None:
    ps_id = _single_id(sf, f"SELECT Id FROM PermissionSet WHERE Name = {soql_literal(PERMISSION_SET)}")
    if ps_id is None:
        created = call(lambda: _sobject(sf, "PermissionSet").create({"Name": PERMISSION_SET, "Label": PERMISSION_SET}))
        ps_id = str(created["id"])
        report.created.append(f"permission set {PERMISSION_SET}")
    else:
        report.unchanged.append(f"permission set {PERMISSION_SET}")
    granted_answer = call(
        lambda: sf.query(f"SELECT Field FROM FieldPermissions WHERE ParentId = {soql_literal(ps_id)}")
    )
    granted = {r["Field"] for r in granted_answer["records"]}
    for object_type in objects:
        for spec in specs:
            name = f"{object_type}.{spec.name}"
            if name in granted:
                continue
            grant = {
                "ParentId": ps_id,
                "SobjectType": object_type,
                "Field": name,
                "PermissionsRead": True,
                "PermissionsEdit": True,
            }
            _create(sf, "FieldPermissions", grant)
            report.created.append(f"read/edit on {name}")
    assigned = _single_id(
        sf,
        "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = "
        f"{soql_literal(ps_id)} AND AssigneeId = {soql_literal(user_id)}",
    )
    if assigned is None:
        _create(sf, "PermissionSetAssignment", {"AssigneeId": user_id, "PermissionSetId": ps_id})
        report.created.append(f"assignment of {PERMISSION_SET} to the integration user {user_id}")


def _check_types(sf: Salesforce, specs: list[FieldSpec], objects: list[str], report: SetupReport) -> None:
    for object_type in objects:
        described = {f["name"]: f for f in _describe(sf, object_type)["fields"]}
        for spec in specs:
            found = described.get(spec.name)
            if found is not None and found["type"] != spec.describe_type:
                report.conflicts.append(
                    f"{object_type}.{spec.name} exists as {found['type']}, leadtherm needs "
                    f"{spec.describe_type}; not changed"
                )


def setup(sf: Salesforce, mapping: CrmMapping, user_id: str) -> SetupReport:
    if not user_id:
        raise PermanentCrmError("could not tell the integration user's id (oauth2/userinfo)")
    report = SetupReport()
    specs = field_specs(mapping)
    objects = list(mapping.objects)
    _ensure_fields(sf, specs, objects, report)
    _ensure_permissions(sf, specs, objects, user_id, report)
    _check_types(sf, specs, objects, report)
    report.instructions.extend(outbound_instructions(mapping))
    report.instructions.extend(cdc_instructions(mapping))
    return report


def outbound_instructions(mapping: CrmMapping) -> list[str]:
    watched = sorted(set(mapping.read_fields) - mapping.own_fields - {"Id"})
    return [
        "In Salesforce Setup, for each of " + ", ".join(mapping.objects) + ":",
        "  1. Outbound Message (Setup > Process Automation > Workflow Actions > Outbound Messages):",
        "     Endpoint URL https://<your leadtherm host>/webhooks/salesforce, send Id and LastModifiedById,",
        "     user: the integration user. Set SALESFORCE_ORG_ID to your org id.",
        "  2. A record-triggered flow (a record is created or updated), the outbound message as its action,",
        "     entry condition: any of these fields changed (ISCHANGED):",
        *[f"       {name}" for name in watched],
        "     Do NOT include the Lead_* output fields: leadtherm's own writes would re-enter (they are",
        "     recognised and dropped, but they cost a delivery).",
        "  3. Or, from a flow's HTTP callout / Apex: POST https://<host>/webhooks/salesforce/flow with",
        '     {"records": [{"object": "Lead", "id": "00Q..."}]} and X-Leadtherm-Signature:',
        "     t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>' with SALESFORCE_CALLOUT_SECRET>.",
        "  4. Flows can react to Lead_Temperature__c changes; Lead_Previous_Temperature__c tells warming",
        "     from cooling.",
    ]
