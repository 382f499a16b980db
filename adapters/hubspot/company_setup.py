"""`leadtherm setup hubspot`, company side: the company outputs in a `leadtherm` group, and the subscriptions to add."""

from __future__ import annotations

from hubspot import HubSpot
from hubspot.crm.properties import PropertyGroupCreate

from adapters.hubspot.errors import call
from adapters.hubspot.field_setup import FIELD_TYPES, GROUP, PropertySpec, conflict
from integration.composition.plugins import SetupReport
from mappings.catalogue import COMPANY_OUTPUT_BY_KEY, OPTIONS
from mappings.company import CompanyMapping

OBJECT = "companies"


def company_specs(mapping: CompanyMapping) -> list[PropertySpec]:
    specs = []
    for key, field in mapping.outputs.items():
        output = COMPANY_OUTPUT_BY_KEY[key]
        if field:
            label = f"Company {output.label}"
            kinds = FIELD_TYPES[output.value]
            about = "Written by leadtherm (rolled up from the company's people)"
            specs.append(PropertySpec(field, label, *kinds, OPTIONS.get(output.value, ()), about))
    return specs


def setup_companies(api: HubSpot, mapping: CompanyMapping, report: SetupReport) -> None:
    """Create what is missing on companies, idempotently; add the subscriptions to `report.instructions`."""
    groups = call(lambda: api.crm.properties.groups_api.get_all(OBJECT))
    if any(g.name == GROUP for g in groups.results or []):
        report.unchanged.append(f"company property group {GROUP}")
    else:
        body = PropertyGroupCreate(name=GROUP, label="leadtherm", display_order=-1)
        call(lambda: api.crm.properties.groups_api.create(OBJECT, body))
        report.created.append(f"company property group {GROUP}")
    existing = {p.name: p for p in call(lambda: api.crm.properties.core_api.get_all(OBJECT)).results or []}
    specs = company_specs(mapping)
    for name in sorted(set(mapping.read_fields) - {s.name for s in specs} - set(existing)):
        report.missing.append(f"company property {name} (read by the company score)")
    for spec in specs:
        found = existing.get(spec.name)
        if found is None:
            _create(api, spec)
            report.created.append(f"company property {spec.name} ({spec.type})")
        elif (problem := conflict(spec, found)) is not None:
            report.conflicts.append(problem)
        else:
            report.unchanged.append(f"company property {spec.name}")
    report.instructions.extend(company_instructions(mapping))


def _create(api: HubSpot, spec: PropertySpec) -> None:
    body = spec.create_body()
    call(lambda: api.crm.properties.core_api.create(OBJECT, body))


def company_instructions(mapping: CompanyMapping) -> list[str]:
    watched = sorted(mapping.trigger_fields - {mapping.id_field})
    return [
        "Company scores: in the same app's webhooks, also subscribe to:",
        "  company.creation, company.deletion, and company.propertyChange for each property they read:",
        *[f"    {name}" for name in watched],
        "  (a contact's own changes re-score its company: no subscription needed for that)",
    ]
