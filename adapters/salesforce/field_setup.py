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
from adapters.salesforce.inbound import OUTBOUND_SECRET_SETTING, outbound_endpoint
from adapters.salesforce.pubsub.setup_steps import cdc_instructions
from adapters.salesforce.related import opportunity_fields
from adapters.salesforce.session_check import VERIFY_SESSION_SETTING
from integration.composition.plugins import SetupReport
from integration.errors import PermanentCrmError
from mappings.catalogue import OPTIONS, OUTPUTS, QUALIFICATION, ValueType
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


_NUMBER_3 = {"type": "Number", "precision": 3, "scale": 0}
# Field metadata (Tooling API) and what describe() reports, for each value type of the catalogue's outputs.
FIELD_TYPES: dict[ValueType, tuple[dict[str, Any], str]] = {
    "percent": (_NUMBER_3, "double"),
    "rating": ({"type": "Number", "precision": 1, "scale": 0}, "double"),
    "temperature": ({"type": "Picklist", "valueSet": _picklist(OPTIONS["temperature"])}, "picklist"),
    "stage": ({"type": "Picklist", "valueSet": _picklist(OPTIONS["stage"])}, "picklist"),
    "long_text": ({"type": "LongTextArea", "length": 32768, "visibleLines": 5}, "textarea"),
    "short_text": ({"type": "Text", "length": 255}, "string"),
    "datetime": ({"type": "DateTime"}, "datetime"),
    "count": ({"type": "Number", "precision": 6, "scale": 0}, "double"),
}


def _label(text: str) -> str:
    # Salesforce labels read in title case: "Lead Score Reasons".
    return " ".join(w if w[:1].isupper() or "(" in w else w.capitalize() for w in text.split())


def field_specs(mapping: CrmMapping) -> list[FieldSpec]:
    specs = [
        FieldSpec(field, _label(output.label), *FIELD_TYPES[output.value])
        for output in OUTPUTS
        if (field := mapping.output_field(output.key)) and field.endswith("__c")
    ]
    specs += [
        FieldSpec(field, _label(f"{output.label} ({score})"), *FIELD_TYPES[output.value])
        for score in mapping.scores
        for output in OUTPUTS
        if (field := mapping.output_field(output.key, score)) and field.endswith("__c")
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


def _own_custom_fields(sf: Salesforce, mapping: CrmMapping, specs: list[FieldSpec]) -> dict[str, set[str]]:
    """Object -> the admin's own custom fields the mapping reads that exist there (they need read access)."""
    ours = {spec.name for spec in specs}
    wanted = {f for f in mapping.read_fields if f.endswith("__c") and "." not in f and f not in ours}
    return {o: wanted & _existing_fields(sf, o) for o in mapping.objects} if wanted else {}


def _ensure_permissions(
    sf: Salesforce,
    specs: list[FieldSpec],
    objects: list[str],
    user_id: str,
    report: SetupReport,
    readable: dict[str, set[str]] | None = None,
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
        # The admin's own fields: read only, so leadtherm sees them and can never change them.
        for field in sorted((readable or {}).get(object_type, set())):
            name = f"{object_type}.{field}"
            if name in granted:
                continue
            grant = {"ParentId": ps_id, "SobjectType": object_type, "Field": name, "PermissionsRead": True}
            _create(sf, "FieldPermissions", {**grant, "PermissionsEdit": False})
            report.created.append(f"read on {name}")
    assigned = _single_id(
        sf,
        "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = "
        f"{soql_literal(ps_id)} AND AssigneeId = {soql_literal(user_id)}",
    )
    if assigned is None:
        _create(sf, "PermissionSetAssignment", {"AssigneeId": user_id, "PermissionSetId": ps_id})
        report.created.append(f"assignment of {PERMISSION_SET} to the integration user {user_id}")


def _check_types(sf: Salesforce, mapping: CrmMapping, specs: list[FieldSpec], report: SetupReport) -> None:
    """Conflicting types of our fields, and fields the mapping reads that no object has."""
    described_by_object = {o: {f["name"]: f for f in _describe(sf, o)["fields"]} for o in mapping.objects}
    ours = {spec.name for spec in specs}
    for name in mapping.read_fields:
        # A field on one object only (IsConverted on Lead) is fine; on none, it is a typo or missing.
        if name not in ours and not any(_has(fields, name) for fields in described_by_object.values()):
            report.missing.append(f"field {name} on none of {', '.join(mapping.objects)}")
    for object_type, described in described_by_object.items():
        for spec in specs:
            found = described.get(spec.name)
            if found is not None and found["type"] != spec.describe_type:
                report.conflicts.append(
                    f"{object_type}.{spec.name} exists as {found['type']}, leadtherm needs "
                    f"{spec.describe_type}; not changed"
                )


def _has(fields: dict[str, dict[str, Any]], name: str) -> bool:
    """A field, or a parent's field through one of the object's relationships (`ConvertedOpportunity.IsWon`)."""
    relationship, dot, _ = name.partition(".")
    return any(f.get("relationshipName") == relationship for f in fields.values()) if dot else name in fields


def setup(sf: Salesforce, mapping: CrmMapping, user_id: str, outbound_secret: str | None = None) -> SetupReport:
    if not user_id:
        raise PermanentCrmError("could not tell the integration user's id (oauth2/userinfo)")
    report = SetupReport()
    specs = field_specs(mapping)
    objects = list(mapping.objects)
    _ensure_fields(sf, specs, objects, report)
    _ensure_permissions(sf, specs, objects, user_id, report, _own_custom_fields(sf, mapping, specs))
    _check_types(sf, mapping, specs, report)
    report.instructions.extend(outbound_instructions(mapping, outbound_secret))
    report.instructions.extend(cdc_instructions(mapping))
    if mapping.company is not None:
        from adapters.salesforce.company_setup import setup_accounts

        setup_accounts(sf, mapping.company, user_id, report)
    return report


def outbound_instructions(mapping: CrmMapping, outbound_secret: str | None = None) -> list[str]:
    """What the admin does in Salesforce Setup; the endpoint URL carries the outbound secret."""
    # A parent's field (`ConvertedOpportunity.IsWon`) changes on the parent, where no Lead flow sees it.
    watched = sorted(f for f in set(mapping.read_fields) - mapping.own_fields - {"Id"} if "." not in f)
    host = "https://<your leadtherm host>"
    if outbound_secret:
        endpoint = [f"     Endpoint URL (paste it whole: it carries {OUTBOUND_SECRET_SETTING}):",
                    f"       {outbound_endpoint(host, outbound_secret)}"]  # fmt: skip
    else:
        endpoint = [
            f"     Endpoint URL {host}/webhooks/salesforce?key=<{OUTBOUND_SECRET_SETTING}>: first set",
            f"     {OUTBOUND_SECRET_SETTING} (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            "     and run setup again to print the URL to paste. Without it every message is refused.",
        ]
    return [
        "In Salesforce Setup, for each of " + ", ".join(mapping.objects) + ":",
        "  1. Outbound Message (Setup > Process Automation > Workflow Actions > Outbound Messages):",
        *endpoint,
        "     Send Id and LastModifiedById, user: the integration user. Set SALESFORCE_ORG_ID to your org id.",
        f"     Optionally tick 'Send Session ID' and set {VERIFY_SESSION_SETTING}=true: each message's",
        "     session is then checked with Salesforce (oauth2/userinfo) before it is accepted.",
        "  2. A record-triggered flow (a record is created or updated), the outbound message as its action,",
        "     entry condition: any of these fields changed (ISCHANGED):",
        *[f"       {name}" for name in watched],
        "     Do NOT include the Lead_* output fields: leadtherm's own writes would re-enter (they are",
        "     recognised and dropped, but they cost a delivery).",
        "  3. Or, from a flow's HTTP callout / Apex: POST https://<host>/webhooks/salesforce/flow with",
        '     {"records": [{"object": "Lead", "id": "00Q..."}], "callout_id": "{!$Flow.InterviewGuid}"}',
        "     and X-Leadtherm-Signature: t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>' with",
        "     SALESFORCE_CALLOUT_SECRET>. callout_id (optional, unique per callout) makes every change count;",
        "     without it a callout is known by its signed timestamp and body.",
        "  4. Flows can react to Lead_Temperature__c changes; Lead_Previous_Temperature__c tells warming",
        "     from cooling.",
        *_opportunity_instructions(mapping),
    ]


def _opportunity_instructions(mapping: CrmMapping) -> list[str]:
    """A Contact reads its converted Opportunity: tell leadtherm when that Opportunity's read fields change."""
    fields = sorted(opportunity_fields(mapping.read_fields))
    if not fields or "Contact" not in mapping.objects:
        return []
    watched = fields[0] if len(fields) == 1 else "any of " + ", ".join(fields)
    return [
        '  5. Also on Opportunity: the same outbound message (or a callout naming object "Opportunity")',
        f"     when {watched} changes: leadtherm then re-scores the Contacts converted with it (winning",
        "     it makes them customers). With CDC, add /data/OpportunityChangeEvent to SALESFORCE_CDC_TOPICS.",
    ]
