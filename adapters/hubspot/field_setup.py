"""`leadtherm setup hubspot`: the `leadtherm` property group and every property, idempotently."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot import HubSpot
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate

from adapters.hubspot.errors import call
from adapters.hubspot.journal.settings import journal_enabled
from integration.composition.plugins import SetupReport
from mappings.catalogue import OPTIONS, OUTPUTS, QUALIFICATION, ValueType
from mappings.schema import CrmMapping

GROUP = "leadtherm"
OBJECT = "contacts"


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    type: str
    field_type: str
    options: tuple[str, ...] = ()
    description: str = ""

    def create_body(self) -> PropertyCreate:
        options = [
            OptionInput(label=o.capitalize(), value=o, display_order=i, hidden=False)
            for i, o in enumerate(self.options)
        ]
        if self.type == "bool":
            options = [
                OptionInput(label="Yes", value="true", display_order=0, hidden=False),
                OptionInput(label="No", value="false", display_order=1, hidden=False),
            ]
        return PropertyCreate(
            name=self.name,
            label=self.label,
            type=self.type,
            field_type=self.field_type,
            group_name=GROUP,
            options=options,
            description=self.description,
            form_field=False,
        )


# HubSpot property type and field type for each value type of the catalogue's outputs.
FIELD_TYPES: dict[ValueType, tuple[str, str]] = {
    "percent": ("number", "number"),
    "rating": ("number", "number"),
    "temperature": ("enumeration", "select"),
    "stage": ("enumeration", "select"),
    "long_text": ("string", "textarea"),
    "short_text": ("string", "text"),
    "datetime": ("datetime", "date"),
    "count": ("number", "number"),
}


def property_specs(mapping: CrmMapping) -> list[PropertySpec]:
    """The output properties the mapping names, and the qualification checkboxes a rep fills in."""
    specs = [
        PropertySpec(field, o.label, *FIELD_TYPES[o.value], OPTIONS.get(o.value, ()), "Written by leadtherm")
        for o in OUTPUTS
        if (field := mapping.output_field(o.key))
    ]
    specs += [
        PropertySpec(
            field,
            f"{o.label} ({score})",
            *FIELD_TYPES[o.value],
            OPTIONS.get(o.value, ()),
            f"Written by leadtherm: the named score {score}",
        )
        for score in mapping.scores
        for o in OUTPUTS
        if (field := mapping.output_field(o.key, score))
    ]
    for criterion in QUALIFICATION:
        spec = mapping.attributes.get(criterion)
        if spec is not None and spec.field is not None:
            specs.append(
                PropertySpec(
                    spec.field,
                    f"{criterion.capitalize()} confirmed",
                    "bool",
                    "booleancheckbox",
                    description=f"Checked by a rep once the lead's {criterion} is confirmed (leadtherm)",
                )
            )
    return specs


def conflict(spec: PropertySpec, existing: Any) -> str | None:
    if existing.type != spec.type:
        have = f"{existing.type}/{existing.field_type}"
        return f"{spec.name} exists as {have}, leadtherm needs {spec.type}/{spec.field_type}; not changed"
    offered = {o.value for o in existing.options or []}
    lacking = [o for o in spec.options if o not in offered]
    if lacking:
        return f"{spec.name} lacks the options {', '.join(lacking)}; add them in HubSpot (not changed)"
    return None


def _create(api: HubSpot, object_type: str, body: PropertyCreate) -> None:
    call(lambda: api.crm.properties.core_api.create(object_type, body))


def ensure_properties(
    api: HubSpot, object_type: str, specs: Sequence[PropertySpec], report: SetupReport, what: str = "property"
) -> dict[str, Any]:
    """The `leadtherm` group and `specs` on `object_type`, created where missing (idempotent), conflicts reported.

    Returns the object's properties as they were before, for the caller to name what it reads and lacks.
    """
    groups = call(lambda: api.crm.properties.groups_api.get_all(object_type))
    if any(g.name == GROUP for g in groups.results or []):
        report.unchanged.append(f"{what} group {GROUP}")
    else:
        group = PropertyGroupCreate(name=GROUP, label="leadtherm", display_order=-1)
        call(lambda: api.crm.properties.groups_api.create(object_type, group))
        report.created.append(f"{what} group {GROUP}")
    existing = {p.name: p for p in call(lambda: api.crm.properties.core_api.get_all(object_type)).results or []}
    for spec in specs:
        found = existing.get(spec.name)
        if found is None:
            _create(api, object_type, spec.create_body())
            report.created.append(f"{what} {spec.name} ({spec.type})")
        elif (problem := conflict(spec, found)) is not None:
            report.conflicts.append(problem)
        else:
            report.unchanged.append(f"{what} {spec.name}")
    return existing


def setup(api: HubSpot, mapping: CrmMapping, env: Mapping[str, str] | None = None) -> SetupReport:
    report = SetupReport()
    specs = property_specs(mapping)
    existing = ensure_properties(api, OBJECT, specs, report)
    created = {spec.name for spec in specs}
    for name in mapping.read_fields:
        if name not in existing and name not in created:
            report.missing.append(f"property {name} (read by {_reader(mapping, name)})")
    report.instructions.extend(webhook_instructions(mapping))
    if env is not None and journal_enabled(env):  # the pull intake: its subscriptions by API, no target URL
        from adapters.hubspot.journal.subscriptions import setup_journal

        setup_journal(env, mapping, report)
    if mapping.company is not None:
        from adapters.hubspot.company_setup import setup_companies

        setup_companies(api, mapping.company, report)
    return report


def _reader(mapping: CrmMapping, field: str) -> str:
    """Which attribute or output reads a field, for the admin to find it in the mapping file."""
    users = [name for name, source in mapping.sources().items() if field in source.sources]
    users += [f"output {key}" for key, name in mapping.outputs.items() if name == field]
    users += [
        f"output {key} of score {score}"
        for score in mapping.scores
        for key, name in mapping.score_outputs(score).items()
        if name == field
    ]
    return ", ".join(users) or "id_field"


def webhook_instructions(mapping: CrmMapping) -> list[str]:
    watched = sorted(set(mapping.read_fields) - mapping.own_fields - {mapping.id_field})
    return [
        "In your HubSpot app (Development > Apps > your app > Webhooks):",
        "  1. Target URL: https://<your leadtherm host>/webhooks/hubspot  (answers 204 once queued)",
        "  2. Subscribe to: contact.creation, contact.deletion, contact.privacyDeletion, contact.merge,",
        "     contact.restore, deal.creation, deal.propertyChange (dealstage)",
        "  3. And contact.propertyChange for each property leadtherm reads:",
        *[f"       {name}" for name in watched],
        "  4. Set HUBSPOT_CLIENT_SECRET to the app's client secret (signatures are verified with it).",
        "     Only v3 signatures are accepted; for an old app that sends nothing newer, set",
        "     HUBSPOT_ALLOW_LEGACY_SIGNATURES=v1 (or v2): those never expire, so a captured one replays.",
        "  5. Workflows can enrol on 'Lead temperature' changes;",
        "     'Previous lead temperature' tells warming from cooling.",
    ]
